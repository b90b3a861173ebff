"""Evaluate a model on a data set: whole images at batch 1, the four paper metrics, per-class IU."""
import collections
import io
import os
import time

import numpy as np
from PIL import Image
from tqdm import tqdm

from fcn_tf1.data.images import DataError
from fcn_tf1.data.validate import label_path, sample_problems
from fcn_tf1.ground import fileutil
from fcn_tf1.ground.names import MARKER, VERSION
from fcn_tf1.ground.tf_compat import tf
from fcn_tf1.model.models import CheckpointModel
from fcn_tf1.numbers.metrics import confusion, per_class_iou, scores
from fcn_tf1.numbers.palette import voc_colormap


def checked_samples(source, num_classes, desc="evaluate", progress=True):
    """(image, label) of every sample of ``source`` with a progress bar; a label map of another
    size than its image, or with values outside [0, C) and 255, is a ``DataError`` naming the file,
    as in training. ``num_classes``: the classes, or [classes of each head] of a model of several
    (the label is then [H, W, heads], each checked)."""
    counts = num_classes if isinstance(num_classes, (list, tuple)) else [num_classes]
    for i in tqdm(range(len(source)), desc=desc, unit="image", disable=not progress):
        image, label = source.load(i)
        problems = [(k, problem) for k, (head, count) in enumerate(zip(
            per_head(label, len(counts)), counts)) for problem in sample_problems(image, head, count)]
        if problems:
            raise DataError(label_path(source, i, problems[0][0]), problems[0][1])
        yield image, label


def per_head(labels, heads):
    """[labels [H, W] of each head] of ``labels`` ([H, W], or [H, W, heads])."""
    return [labels] if heads == 1 else [labels[..., i] for i in range(heads)]


def confusions(predict, source, counts, progress=True):
    """[confusion matrix of each head] of ``predict(image uint8 [H, W, 3]) -> labels`` ([H, W],
    or [H, W, heads]) over ``source`` (``checked_samples``), heads of ``counts`` classes."""
    hists = [np.zeros((count, count), np.int64) for count in counts]
    for image, label in checked_samples(source, list(counts), progress=progress):
        _add(hists, label, predict(image))
    return hists


def _add(hists, label, predicted):
    for hist, truth, ours in zip(hists, per_head(label, len(hists)),
                                 per_head(predicted, len(hists))):
        hist += confusion(truth, ours, len(hist))


def evaluate_predictor(predict, source, num_classes, progress=True):
    """Confusion matrix of a model of one head (``confusions``)."""
    return confusions(predict, source, [num_classes], progress)[0]


def evaluate_labellers(labellers, source, counts):
    """{name: ([confusion matrix of each head], seconds spent labelling)} of each ``Labeller`` of
    ``labellers`` ({name: labeller}) over ``source``, heads of ``counts`` classes, each image read
    once."""
    out = {name: [[np.zeros((n, n), np.int64) for n in counts], 0.0] for name in labellers}
    for image, label in checked_samples(source, list(counts)):
        for name, labeller in labellers.items():
            start = time.perf_counter()
            labels = labeller.labels(image)[0]
            out[name][1] += time.perf_counter() - start
            _add(out[name][0], label, labels)
    return {name: tuple(value) for name, value in out.items()}


def report(hist, class_names):
    """The metrics dict written to metrics.json: the four scores plus per-class IU."""
    result = scores(hist)
    result[MARKER] = VERSION
    result["per_class_iou"] = {name: (None if np.isnan(iou) else float(iou))
                               for name, iou in zip(class_names, per_class_iou(hist))}
    return result


def report_heads(hists, heads):
    """``report`` of a model's one head, or {"heads": {name: report}} of each of several, as the
    reference's score.py scores each task (``heads``: the config's HeadSpecs)."""
    if len(heads) == 1:
        return report(hists[0], heads[0].class_names)
    return {MARKER: VERSION, "heads": collections.OrderedDict(
        (head.name, report(hist, head.class_names)) for head, hist in zip(heads, hists))}


def format_heads(result):
    """``format_report`` of each head under its name."""
    if "heads" not in result:
        return format_report(result)
    return "\n".join("%s:\n%s" % (name, format_report(head))
                     for name, head in result["heads"].items())


def format_report(result):
    lines = ["%-16s %7.4f" % (key, result[key])
             for key in ("pixel_accuracy", "mean_accuracy", "mean_iou", "fw_iou")]
    lines.append("per-class IU:")
    lines += ["  %-14s %s" % (name, "   -   " if iou is None else "%7.4f" % iou)
              for name, iou in result["per_class_iou"].items()]
    return "\n".join(lines)


def evaluate_run(run_dir, source, write=True, panels=3):
    """Evaluate the latest checkpoint of ``run_dir`` on ``source``; writes eval/metrics.json and
    TensorBoard summaries (metrics and image / label / prediction panels) under ``run_dir/eval``."""
    with CheckpointModel(run_dir) as model:
        heads = model.config.heads
        result = report_heads(confusions(model.predict, source, [h.num_classes for h in heads]),
                              heads)
        result["step"] = model.global_step()
        if write:
            _write_summaries(os.path.join(run_dir, "eval"), result, model, source, panels)
            fileutil.write_json(os.path.join(run_dir, "eval", "metrics.json"), result)
    return result


def _write_summaries(directory, result, model, source, panels):
    """The four metrics (eval/<head>/... for a model of several heads) and panels of image, label
    and prediction (a row per head)."""
    reports = result.get("heads", {None: result})
    values = [tf.Summary.Value(tag="eval/%s%s" % ("" if name is None else name + "/", key),
                               simple_value=report[key]) for name, report in reports.items()
              for key in ("pixel_accuracy", "mean_accuracy", "mean_iou", "fw_iou")]
    colours = voc_colormap()
    for i in range(min(panels, len(source))):
        image, label = source.load(i)
        predicted = model.predict(image)
        image = next(iter(image.values())) if isinstance(image, dict) else image  # the first's
        panel = np.concatenate([np.concatenate([image, colours[truth], colours[ours]], 1)
                                for truth, ours in zip(per_head(label, len(reports)),
                                                       per_head(predicted, len(reports)))], 0)
        values.append(tf.Summary.Value(tag="eval/panel_%d" % i, image=_png_summary(panel)))
    writer = tf.summary.FileWriter(directory)
    writer.add_summary(tf.Summary(value=values), result["step"])
    writer.close()


def _png_summary(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return tf.Summary.Image(height=array.shape[0], width=array.shape[1], colorspace=3,
                            encoded_image_string=buffer.getvalue())
