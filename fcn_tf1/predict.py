"""python -m fcn_tf1.predict: label images of any size with a frozen fcn_tf1 graph.

    python -m fcn_tf1.predict --graph checkpoints/synthetic-fcn8s/frozen_model.pb photo.jpg dir/ \\
        --output-dir masks --overlay

Writes OUT/<name>.png, a palette PNG mask (VOC colours) of exactly the image's size, and with
``--overlay`` OUT/<name>_overlay.png. ``FrozenModel`` is the same thing as a Python API.
"""
import argparse
import json
import os
import sys

from fcn_tf1 import cli

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".ppm")


class FrozenModel(object):
    """A frozen fcn_tf1 graph loaded once; ``predict(image uint8 [H, W, 3]) -> labels [H, W]``."""

    def __init__(self, path):
        from fcn_tf1.exporting import CONFIG_NODE
        from fcn_tf1.inference import INPUT, LOGITS, PREDICTION
        from fcn_tf1.tf_compat import tf
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
        names = {node.name for node in graph_def.node}
        missing = [n for n in (INPUT, LOGITS, PREDICTION, CONFIG_NODE) if n not in names]
        if missing:
            raise ValueError("%s: not an fcn_tf1 graph (no node %s)" % (path, ", ".join(missing)))
        self.path, self.graph = path, tf.Graph()
        with self.graph.as_default():
            tf.import_graph_def(graph_def, name="")
        self.session = tf.Session(graph=self.graph)
        config = self.session.run(CONFIG_NODE + ":0")
        self.metadata = json.loads(config.decode("utf-8") if isinstance(config, bytes) else config)
        self.num_classes = self.metadata["num_classes"]
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


def save_mask(labels, path):
    from PIL import Image
    from fcn_tf1.palette import voc_colormap
    mask = Image.fromarray(labels.astype("uint8"), mode="P")
    mask.putpalette(voc_colormap().ravel().tolist())
    mask.save(path)


def save_overlay(image, labels, path, alpha=0.5):
    import numpy as np
    from PIL import Image
    from fcn_tf1.palette import voc_colormap
    colours = voc_colormap()[labels].astype(np.float32)
    blend = np.where(labels[..., None] > 0, (1 - alpha) * image + alpha * colours, image)
    Image.fromarray(blend.astype(np.uint8)).save(path)


def predict_files(model, paths, output_dir, overlay=False, log=print):
    """Write a mask (and overlay) per image; returns the list of failures as one-line messages."""
    from tqdm import tqdm
    from fcn_tf1.data.images import DataError, read_image
    os.makedirs(output_dir, exist_ok=True)
    failures = []
    for path in tqdm(paths, desc="predict", unit="image", disable=len(paths) < 2):
        try:
            image = read_image(path)
        except DataError as error:
            failures.append(str(error))
            continue
        labels = model.predict(image)
        stem = os.path.splitext(os.path.basename(path))[0]
        save_mask(labels, os.path.join(output_dir, stem + ".png"))
        if overlay:
            save_overlay(image, labels, os.path.join(output_dir, stem + "_overlay.png"))
    return failures


def parser():
    p = argparse.ArgumentParser(prog="python -m fcn_tf1.predict", description=(
        "Label images with a frozen fcn_tf1 graph: a palette PNG mask per image, of its exact size."))
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR")
    p.add_argument("--graph", required=True, help="frozen graph (.pb) from fcn_tf1.export / train")
    p.add_argument("--output-dir", required=True)
    p.add_argument("--overlay", action="store_true", help="also write <name>_overlay.png")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    cli.openmp_defaults()
    cli.quiet_tensorflow()

    def run():
        paths = list_images(args.inputs)
        if not paths:
            raise ValueError("no image files in %s" % ", ".join(args.inputs))
        with FrozenModel(args.graph) as model:
            failures = predict_files(model, paths, args.output_dir, args.overlay)
        for line in failures:
            print("fcn_tf1.predict: error: %s" % line, file=sys.stderr)
        print("wrote %d mask(s) to %s" % (len(paths) - len(failures), args.output_dir))
        return 1 if failures else 0
    return cli.run(run, "fcn_tf1.predict")


if __name__ == "__main__":
    sys.exit(main())
