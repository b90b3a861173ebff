"""Evaluate a model on a data set: whole images at batch 1, the four paper metrics, per-class IU."""
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
    as in training."""
    for i in tqdm(range(len(source)), desc=desc, unit="image", disable=not progress):
        image, label = source.load(i)
        problems = sample_problems(image, label, num_classes)
        if problems:
            raise DataError(label_path(source, i), problems[0])
        yield image, label


def evaluate_predictor(predict, source, num_classes, progress=True):
    """Confusion matrix of ``predict(image uint8 [H, W, 3]) -> labels [H, W]`` over ``source``
    (``checked_samples``)."""
    hist = np.zeros((num_classes, num_classes), np.int64)
    for image, label in checked_samples(source, num_classes, progress=progress):
        hist += confusion(label, predict(image), num_classes)
    return hist


def evaluate_labellers(labellers, source, num_classes):
    """{name: (confusion matrix, seconds spent labelling)} of each ``Labeller`` of ``labellers``
    ({name: labeller}) over ``source``, each image read once."""
    out = {name: [np.zeros((num_classes, num_classes), np.int64), 0.0] for name in labellers}
    for image, label in checked_samples(source, num_classes):
        for name, labeller in labellers.items():
            start = time.perf_counter()
            labels = labeller.labels(image)[0]
            out[name][1] += time.perf_counter() - start
            out[name][0] += confusion(label, labels, num_classes)
    return {name: tuple(value) for name, value in out.items()}


def report(hist, class_names):
    """The metrics dict written to metrics.json: the four scores plus per-class IU."""
    result = scores(hist)
    result[MARKER] = VERSION
    result["per_class_iou"] = {name: (None if np.isnan(iou) else float(iou))
                               for name, iou in zip(class_names, per_class_iou(hist))}
    return result


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
        hist = evaluate_predictor(model.predict, source, model.config.num_classes)
        result = report(hist, model.config.class_names)
        result["step"] = model.global_step()
        if write:
            _write_summaries(os.path.join(run_dir, "eval"), result, model, source, panels)
            fileutil.write_json(os.path.join(run_dir, "eval", "metrics.json"), result)
    return result


def _write_summaries(directory, result, model, source, panels):
    values = [tf.Summary.Value(tag="eval/" + key, simple_value=result[key])
              for key in ("pixel_accuracy", "mean_accuracy", "mean_iou", "fw_iou")]
    colours = voc_colormap()
    for i in range(min(panels, len(source))):
        image, label = source.load(i)
        panel = np.concatenate([image, colours[label], colours[model.predict(image)]], 1)
        values.append(tf.Summary.Value(tag="eval/panel_%d" % i, image=_png_summary(panel)))
    writer = tf.summary.FileWriter(directory)
    writer.add_summary(tf.Summary(value=values), result["step"])
    writer.close()


def _png_summary(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return tf.Summary.Image(height=array.shape[0], width=array.shape[1], colorspace=3,
                            encoded_image_string=buffer.getvalue())
