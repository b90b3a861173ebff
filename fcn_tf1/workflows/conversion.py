"""Pretrained weights written as a TF1 checkpoint in fcn_tf1's variable names."""
import glob
import os

from fcn_tf1.ground import fileutil
from fcn_tf1.ground.names import MARKER, VERSION
from fcn_tf1.ground.tf_compat import tf

CONVERTED_FILES = ("vgg16.ckpt.index", "vgg16.ckpt.data-00000-of-00001", "checkpoint",
                   "convention.json")


def convert_weights(weights, output_dir, force=False):
    """Write ``weights`` (``read_vgg16``'s result) as a TF1 checkpoint in fcn_tf1's variable names
    (+ convention.json); returns the checkpoint prefix. Files of an earlier conversion are
    replaced; any other file of those names only with ``force``, the input never."""
    marker = os.path.join(output_dir, "convention.json")
    inputs = [weights.path] + glob.glob(glob.escape(weights.path) + ".*")
    for name in CONVERTED_FILES:
        fileutil.check_output(os.path.join(output_dir, name),
                              lambda _: fileutil.json_is_ours(marker), force, inputs)
    with tf.Graph().as_default():
        variables = []
        for layer, (kernel, bias) in weights.items():
            with tf.variable_scope(layer):
                variables.append(tf.get_variable("kernel", initializer=kernel))
                variables.append(tf.get_variable("bias", initializer=bias))
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            os.makedirs(output_dir, exist_ok=True)
            prefix = tf.train.Saver(variables).save(session, os.path.join(output_dir, "vgg16.ckpt"),
                                                    write_meta_graph=False)
    fileutil.write_json(marker, {"channel_order": weights.convention.channel_order,
                                 "mean": list(weights.convention.mean), MARKER: VERSION})
    return prefix
