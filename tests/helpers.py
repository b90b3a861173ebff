"""Shared by the test modules: small trained runs, and files written in the real formats (VOC
folders, the three VGG16 weight files) by code independent of the readers under test."""
import os

import h5py
import numpy as np
from PIL import Image

from fcn_tf1.data.synthetic import SyntheticDataset
from fcn_tf1.ground.tf_compat import tf
from fcn_tf1.model.config import ModelConfig
from fcn_tf1.model.vgg16 import vgg16
from fcn_tf1.numbers.palette import voc_colormap
from fcn_tf1.numbers.vgg16_weights import expected_shapes
from fcn_tf1.workflows import recipes, training
from fcn_tf1.workflows.initialisation import backbone_assignments

# The layer names of the published files, spelled out (not derived from the readers' own tables).
KERAS_LAYERS = {
    "conv1_1": "block1_conv1", "conv1_2": "block1_conv2", "conv2_1": "block2_conv1",
    "conv2_2": "block2_conv2", "conv3_1": "block3_conv1", "conv3_2": "block3_conv2",
    "conv3_3": "block3_conv3", "conv4_1": "block4_conv1", "conv4_2": "block4_conv2",
    "conv4_3": "block4_conv3", "conv5_1": "block5_conv1", "conv5_2": "block5_conv2",
    "conv5_3": "block5_conv3", "fc6": "fc1", "fc7": "fc2", "fc8": "predictions"}
SLIM_SCOPES = {
    "conv1_1": "vgg_16/conv1/conv1_1", "conv1_2": "vgg_16/conv1/conv1_2",
    "conv2_1": "vgg_16/conv2/conv2_1", "conv2_2": "vgg_16/conv2/conv2_2",
    "conv3_1": "vgg_16/conv3/conv3_1", "conv3_2": "vgg_16/conv3/conv3_2",
    "conv3_3": "vgg_16/conv3/conv3_3", "conv4_1": "vgg_16/conv4/conv4_1",
    "conv4_2": "vgg_16/conv4/conv4_2", "conv4_3": "vgg_16/conv4/conv4_3",
    "conv5_1": "vgg_16/conv5/conv5_1", "conv5_2": "vgg_16/conv5/conv5_2",
    "conv5_3": "vgg_16/conv5/conv5_3", "fc6": "vgg_16/fc6", "fc7": "vgg_16/fc7", "fc8": "vgg_16/fc8"}

# The share of labels a runtime must give as TensorFlow fp32 does: fp32 differs only by rounding
# (argmax ties); bf16 keeps 8 bits of mantissa, so a label flips wherever the top two scores lie
# within about 1 % (on the bench's random-weight models, near ties everywhere: 97.7 % measured).
AGREEMENT = {"fp32": 0.999, "bf16": 0.95, "int8": 0.95}


def trained_run(directory, width=1 / 16., steps=4, shape_fix="output_shape", save_every=1):
    options = recipes.options_for("quick", steps=steps, batch_size=2, crop_size=(48, 48),
                                  save_every=save_every)
    config = ModelConfig(5, "fcn8s", width, shape_fix=shape_fix,
                         class_names=SyntheticDataset.class_names)
    training.train(directory, config, SyntheticDataset("train", 8), options)
    return directory


def write_voc(root, ids, size=(21, 30), label_value=None, split="train"):
    os.makedirs(os.path.join(root, "JPEGImages"), exist_ok=True)
    os.makedirs(os.path.join(root, "SegmentationClass"), exist_ok=True)
    os.makedirs(os.path.join(root, "ImageSets", "Segmentation"), exist_ok=True)
    rng = np.random.RandomState(0)
    for name in ids:
        Image.fromarray(rng.randint(0, 255, size + (3,), dtype=np.uint8)).save(
            os.path.join(root, "JPEGImages", name + ".jpg"))
        label = rng.randint(0, 21, size).astype(np.uint8)
        label[0] = 255
        if label_value is not None:
            label[1, 1] = label_value
        png = Image.fromarray(label, mode="P")
        png.putpalette(voc_colormap().ravel().tolist())
        png.save(os.path.join(root, "SegmentationClass", name + ".png"))
    with open(os.path.join(root, "ImageSets", "Segmentation", split + ".txt"), "w") as f:
        f.write("".join(name + "\n" for name in ids))
    return root


def random_weights(width, seed=0, fc=True):
    """{layer: (kernel, bias)} in conv form, scaled so activations stay O(1)."""
    rng = np.random.default_rng(seed)
    out = {}
    for layer, shape in expected_shapes(width).items():
        if not fc and layer.startswith("fc"):
            continue
        fan_in = np.prod(shape[:3])
        kernel = rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in))
        out[layer] = (kernel, rng.standard_normal(shape[-1:], dtype=np.float32) * np.float32(0.1))
    return out


def dense(layer, kernel):
    """The file's FC matrix: (inputs, outputs), inputs flattened from HWC."""
    return kernel.reshape(-1, kernel.shape[-1])


def write_keras_h5(path, weights):
    with h5py.File(path, "w") as f:
        names = ["input_1"] + [KERAS_LAYERS[layer] for layer in weights] + ["flatten"]
        f.attrs["layer_names"] = [n.encode("utf8") for n in names]
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.2.4"
        for name in ("input_1", "flatten"):
            f.create_group(name).attrs["weight_names"] = np.array([], dtype="S")
        for layer, (kernel, bias) in weights.items():
            keras = KERAS_LAYERS[layer]
            group = f.create_group(keras)
            names = [("%s/kernel:0" % keras).encode(), ("%s/bias:0" % keras).encode()]
            group.attrs["weight_names"] = names
            group.create_dataset(names[0].decode(), data=dense(layer, kernel)
                                 if layer.startswith("fc") else kernel)
            group.create_dataset(names[1].decode(), data=bias)


def write_slim_ckpt(path, weights):
    with tf.Graph().as_default():
        variables = []
        for layer, (kernel, bias) in weights.items():
            scope = SLIM_SCOPES[layer]
            variables.append(tf.Variable(kernel, name=scope + "/weights"))
            variables.append(tf.Variable(bias, name=scope + "/biases"))
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            # TF-slim's published vgg_16.ckpt is a V1 checkpoint: one file.
            tf.train.Saver(variables, write_version=tf.train.SaverDef.V1).save(
                session, path, write_meta_graph=False, write_state=False)


def write_caffe_npy(path, weights):
    np.save(path, {layer: [dense(layer, k) if layer in ("fc6", "fc7", "fc8") else k, b]
                   for layer, (k, b) in weights.items()})


def classifier_logits(weights, width, images):
    """The FCN-style classifier (fc6 'VALID', fc8 as a 1x1 conv) built by fcn_tf1 from weights."""
    with tf.Graph().as_default():
        inputs = tf.placeholder(tf.float32, [1, None, None, 3])
        fc7, points = vgg16(inputs, width=width, fc_conv_padding="VALID")
        logits = tf.layers.conv2d(fc7, 1000, 1, name="fc8",
                                  kernel_initializer=tf.constant_initializer(weights["fc8"][0]),
                                  bias_initializer=tf.constant_initializer(weights["fc8"][1]))
        ops, feed = backbone_assignments(weights, tf.global_variables())
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            session.run(ops, feed)
            return [session.run([points["pool5"], logits], {inputs: image}) for image in images]


def resident_bytes(path):
    """Bytes of the file ``path`` resident in this process's mappings of it (Linux's smaps)."""
    real, total, inside = os.path.realpath(path), 0, False
    with open("/proc/self/smaps") as f:
        for line in f:
            fields = line.split()
            if not fields[0].endswith(":"):  # a mapping's first line: range, perms, ..., path
                inside = " ".join(fields[5:]) == real
            elif inside and fields[0] == "Rss:":
                total += int(fields[1]) * 1024
    return total
