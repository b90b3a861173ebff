"""python -m fcn_tf1.predict: label images of any size with a frozen fcn_tf1 graph.

    python -m fcn_tf1.predict --graph checkpoints/synthetic-fcn8s/frozen_model.pb photo.jpg dir/ \\
        --output-dir masks --overlay

Writes OUT/<name>.png, a palette PNG mask (VOC colours) of exactly the image's size, and with
``--overlay`` OUT/<name>_overlay.png. ``FrozenModel`` is the same thing as a Python API.
"""
import json
import os
import sys

from fcn_tf1 import cli, fileutil
from fcn_tf1.data.images import MAX_PIXELS

# Larger images are labelled on a downscaled copy: 4 megapixels kept the peak RSS of full-width
# FCN-8s near its 3.3 GB load-time floor here (README, "Images as users have them").
MAX_INFERENCE_PIXELS = 4194304
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".ppm")


class FrozenModel(object):
    """A frozen fcn_tf1 graph loaded once; ``predict(image uint8 [H, W, 3]) -> labels [H, W]``."""

    def __init__(self, path):
        from fcn_tf1.exporting import CONFIG_NODE
        from fcn_tf1.inference import INPUT, LOGITS, PREDICTION, ModelConfig
        from fcn_tf1.tf_compat import tf
        from fcn_tf1.untrusted import check_graph_def
        if not os.path.isfile(path):
            raise ValueError("%s: no such file" % path)
        with open(path, "rb") as f:
            data = f.read()
        if not data:
            raise ValueError("%s: empty file, not a frozen graph" % path)
        graph_def = tf.GraphDef()
        try:
            graph_def.ParseFromString(data)
        except Exception:  # protobuf's DecodeError differs between implementations
            raise ValueError("%s: not a TensorFlow GraphDef (.pb)" % path)
        names = {node.name: node for node in graph_def.node}
        missing = [n for n in (INPUT, LOGITS, PREDICTION, CONFIG_NODE) if n not in names]
        if missing:
            raise ValueError("%s: not an fcn_tf1 graph (no node %s)" % (path, ", ".join(missing)))
        check_graph_def(graph_def, path)
        # The config is read from the node's bytes, before anything of the graph runs.
        self.metadata = _read_metadata(names[CONFIG_NODE], path)
        self.config = ModelConfig.from_dict(self.metadata, path)
        self.num_classes = self.config.num_classes
        self.path, self.graph = path, tf.Graph()
        with self.graph.as_default():
            tf.import_graph_def(graph_def, name="")
        self.session = tf.Session(graph=self.graph)
        self.input = self.graph.get_tensor_by_name(INPUT + ":0")
        self.outputs = [self.graph.get_tensor_by_name(n + ":0") for n in (LOGITS, PREDICTION)]

    def run(self, image):
        """(logits, labels) for an RGB uint8 image [H, W, 3] or batch [N, H, W, 3]."""
        return self.session.run(self.outputs, {self.input: image})

    def predict(self, image):
        return self.run(image)[1]

    def close(self):
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _read_metadata(node, path):
    """The JSON config in an export's string constant node."""
    try:
        value = node.attr["value"].tensor.string_val[0]
        data = json.loads(value.decode("utf-8"))
    except (IndexError, ValueError, UnicodeDecodeError) as error:
        raise ValueError("%s: the graph's %s is not a JSON config (%s)" % (path, node.name, error))
    if not isinstance(data, dict):
        raise ValueError("%s: the graph's %s is not a JSON object" % (path, node.name))
    return data


def list_images(inputs):
    """Files named, and the image files of folders named, in order; missing paths stay (they fail)."""
    paths = []
    for item in inputs:
        if os.path.isdir(item):
            paths += sorted(os.path.join(item, name) for name in os.listdir(item)
                            if name.lower().endswith(IMAGE_EXTENSIONS))
        else:
            paths.append(item)
    return paths


def mask_is_ours(path):
    """A PNG that fcn_tf1 wrote: it carries the marker text chunk (VOC's ground-truth PNGs look
    exactly like our masks, so the look says nothing)."""
    from PIL import Image
    try:
        with Image.open(path) as image:
            return image.format == "PNG" and fileutil.MARKER in image.text
    except (OSError, ValueError, SyntaxError, AttributeError):
        return False


def plan_outputs(paths, output_dir, overlay=False, force=False):
    """[(image, mask path, overlay path or None)] for ``paths``; refuses in one line, before anything
    is written, two inputs that would share an output, an output that is an input, and an existing
    file that fcn_tf1 did not write (unless ``force``)."""
    inputs = {os.path.realpath(p): p for p in paths}
    writers, plans = {}, []
    for path in paths:
        stem = os.path.join(output_dir, os.path.splitext(os.path.basename(path))[0])
        outputs = [stem + ".png"] + ([stem + "_overlay.png"] if overlay else [])
        for out in outputs:
            key = os.path.realpath(out)
            if key in inputs:
                raise ValueError("%s: the output would replace %s, an input; choose another "
                                 "--output-dir" % (out, inputs[key]))
            if key in writers:
                raise ValueError("%s: both %s and %s would be written there; label them in "
                                 "separate runs or rename one" % (out, writers[key], path))
            writers[key] = path
            fileutil.check_output(out, mask_is_ours, force, what="mask")
        plans.append((path, outputs[0], outputs[1] if overlay else None))
    return plans


def save_png(image, path):
    """An atomic PNG write with fcn_tf1's marker chunk."""
    from PIL import PngImagePlugin
    from fcn_tf1 import __version__
    info = PngImagePlugin.PngInfo()
    info.add_text(fileutil.MARKER, __version__)
    with fileutil.atomic_path(path) as tmp:
        image.save(tmp, format="PNG", pnginfo=info)


def save_mask(labels, path):
    from PIL import Image
    from fcn_tf1.palette import voc_colormap
    mask = Image.fromarray(labels.astype("uint8"), mode="P")
    mask.putpalette(voc_colormap().ravel().tolist())
    save_png(mask, path)


def save_overlay(image, labels, path, alpha=0.5):
    import numpy as np
    from PIL import Image
    from fcn_tf1.palette import voc_colormap
    colours = voc_colormap()[labels].astype(np.float32)
    blend = np.where(labels[..., None] > 0, (1 - alpha) * image + alpha * colours, image)
    save_png(Image.fromarray(blend.astype(np.uint8)), path)


def label_image(model, image, max_pixels=MAX_INFERENCE_PIXELS):
    """Labels [H, W] of ``image``; one of more than ``max_pixels`` pixels is labelled on a copy
    downscaled to that many and the labels enlarged back (nearest neighbour), so memory stays
    bounded whatever the image size. Returns (labels, the size it was labelled at)."""
    import numpy as np
    from PIL import Image
    height, width = image.shape[:2]
    if height * width <= max_pixels:
        return model.predict(image), (height, width)
    scale = (max_pixels / float(height * width)) ** 0.5
    size = (max(1, int(height * scale)), max(1, int(width * scale)))
    small = np.asarray(Image.fromarray(image).resize(size[::-1], Image.BILINEAR))
    labels = Image.fromarray(model.predict(small).astype(np.uint8))
    return np.asarray(labels.resize((width, height), Image.NEAREST)).astype(np.int32), size


def predict_files(model, plans, overlay=False, max_pixels=MAX_PIXELS,
                  max_inference_pixels=MAX_INFERENCE_PIXELS, log=print):
    """Write a mask (and overlay) per planned image; returns the failures as one-line messages."""
    from tqdm import tqdm
    from fcn_tf1.data.images import DataError, read_image
    failures = []
    for path, mask_path, overlay_path in tqdm(plans, desc="predict", unit="image",
                                              disable=len(plans) < 2):
        try:
            image = read_image(path, orient=True, max_pixels=max_pixels)
        except DataError as error:
            failures.append(str(error))
            continue
        labels, size = label_image(model, image, max_inference_pixels)
        if size != image.shape[:2]:
            log("%s: %dx%d labelled at %dx%d (--max-inference-pixels %d)"
                % ((path,) + image.shape[:2] + size + (max_inference_pixels,)))
        os.makedirs(os.path.dirname(os.path.abspath(mask_path)), exist_ok=True)
        save_mask(labels, mask_path)
        if overlay_path:
            save_overlay(image, labels, overlay_path)
    return failures


def parser():
    p = cli.ArgumentParser(prog="python -m fcn_tf1.predict", description=(
        "Label images with a frozen fcn_tf1 graph: a palette PNG mask per image, of its exact size, "
        "oriented as image viewers show it (EXIF orientation applied)."))
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR")
    p.add_argument("--graph", required=True, help="frozen graph (.pb) from fcn_tf1.export / train")
    p.add_argument("--output-dir", required=True, help="where <name>.png masks go; never an "
                   "input's own file")
    p.add_argument("--overlay", action="store_true", help="also write <name>_overlay.png")
    p.add_argument("--force", action="store_true",
                   help="replace existing files that fcn_tf1 did not write (its own masks are "
                        "replaced anyway; inputs never are)")
    p.add_argument("--max-pixels", type=cli.positive_int, default=MAX_PIXELS,
                   help="refuse images with more pixels than this (decompression bombs)")
    p.add_argument("--max-inference-pixels", type=cli.positive_int,
                   default=MAX_INFERENCE_PIXELS,
                   help="label larger images on a copy downscaled to this many pixels, the labels "
                        "enlarged back: bounded memory")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    cli.openmp_defaults()
    cli.prepare_tensorflow("fcn_tf1.predict")

    def run():
        paths = list_images(args.inputs)
        if not paths:
            raise ValueError("no image files in %s" % ", ".join(args.inputs))
        plans = plan_outputs(paths, args.output_dir, args.overlay, args.force)
        with FrozenModel(args.graph) as model:
            failures = predict_files(model, plans, args.overlay, args.max_pixels,
                                     args.max_inference_pixels,
                                     log=lambda line: print(line, file=sys.stderr))
        for line in failures:
            print("fcn_tf1.predict: error: %s" % line, file=sys.stderr)
        print("wrote %d mask(s) to %s" % (len(paths) - len(failures), args.output_dir))
        return 1 if failures else 0
    return cli.run(run, "fcn_tf1.predict")


if __name__ == "__main__":
    sys.exit(main())
