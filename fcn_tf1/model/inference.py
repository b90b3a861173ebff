"""The inference graph of a model: uint8 image in, logits and labels out.

The same graph is used for evaluation, export (frozen GraphDef / SavedModel) and benchmarks, so the
preprocessing (channel order, mean) always travels inside it.
"""
from fcn_tf1.ground.names import INPUT, LOGITS, PREDICTION
from fcn_tf1.ground.tf_compat import tf
from fcn_tf1.model.preprocessing import preprocess


def build_inference_graph(config, input_shape=None):
    """Add the inference graph of ``config`` (a ``ModelConfig``) to the default graph.

    The input ``image`` is uint8 RGB, [H, W, 3] or [N, H, W, 3] (or exactly ``input_shape``); the
    outputs ``logits`` (float32, the input's shape with C channels) and ``prediction`` (int32 labels,
    the input's shape without channels) have the input's rank. Returns (image, logits, prediction).
    """
    image = tf.placeholder(tf.uint8, input_shape, name=INPUT)
    shape = tf.shape(image)
    checks = [tf.assert_rank_in(image, [3, 4], message="image must be [H, W, 3] or [N, H, W, 3]"),
              tf.assert_equal(shape[-1], 3, message="image must have 3 (RGB) channels")]
    with tf.control_dependencies(checks):
        batch = tf.reshape(image, tf.stack([-1, shape[-3], shape[-2], 3]))
    if input_shape is not None:
        batch.set_shape([1] * (4 - len(input_shape)) + list(input_shape))
    scores = config.build(preprocess(batch, config.convention))
    logits = tf.reshape(scores, tf.concat([shape[:-1], [config.num_classes]], 0), name=LOGITS)
    if input_shape is not None:
        logits.set_shape(list(input_shape[:-1]) + [config.num_classes])
    prediction = tf.cast(tf.argmax(logits, -1), tf.int32, name=PREDICTION)
    return image, logits, prediction
