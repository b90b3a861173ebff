"""The inference graph of a model: uint8 image in, logits and labels out.

The same graph is used for evaluation, export (frozen GraphDef / SavedModel) and benchmarks, so the
preprocessing (channel order, mean) always travels inside it.
"""
from fcn_tf1.ground.names import BYTES_INPUT, LOGITS, PREDICTION
from fcn_tf1.ground.tf_compat import tf
from fcn_tf1.model.preprocessing import preprocess


def build_inference_graph(config, input_shape=None, tta=None):
    """Add the inference graph of ``config`` (a ``ModelConfig``) to the default graph.

    The input ``image`` is uint8 RGB, [H, W, 3] or [N, H, W, 3] (or exactly ``input_shape``); the
    outputs ``logits`` (float32, the input's shape with C channels) and ``prediction`` (int32 labels,
    the input's shape without channels) have the input's rank. With ``tta`` (a ``numbers.tta.TTA``)
    the logits are the log of the softmax probabilities averaged over its copies (``tta_scores``).
    Returns (image, logits, prediction).
    """
    image = tf.placeholder(tf.uint8, input_shape, name=config.signature.image.name)
    shape = tf.shape(image)
    checks = [tf.assert_rank_in(image, [3, 4], message="image must be [H, W, 3] or [N, H, W, 3]"),
              tf.assert_equal(shape[-1], 3, message="image must have 3 (RGB) channels")]
    with tf.control_dependencies(checks):
        batch = tf.reshape(image, tf.stack([-1, shape[-3], shape[-2], 3]))
    if input_shape is not None:
        batch.set_shape([1] * (4 - len(input_shape)) + list(input_shape))
    net = preprocess(batch, config.convention)
    scores = config.build(net) if tta is None else tta_scores(config, net, tta)
    logits = tf.reshape(scores, tf.concat([shape[:-1], [config.num_classes]], 0), name=LOGITS)
    if input_shape is not None:
        logits.set_shape(list(input_shape[:-1]) + [config.num_classes])
    prediction = tf.cast(tf.argmax(logits, -1), tf.int32, name=PREDICTION)
    return image, logits, prediction


def tta_scores(config, images, tta):
    """log of the softmax probabilities of ``config``'s model averaged over ``tta``'s flipped and
    rescaled copies of ``images`` (preprocessed, [N, H, W, 3]), each resized back bilinearly: the
    softmax of these scores is that average, their argmax its labels."""
    size = tf.shape(images)[1:3]
    probabilities = []
    for scale in tta.scales:
        scaled = images if scale == 1 else tf.image.resize_bilinear(
            images, tf.cast(tf.round(tf.cast(size, tf.float32) * scale), tf.int32),
            half_pixel_centers=True)
        for flip in (False, True) if tta.flip else (False,):
            with tf.variable_scope(tf.get_variable_scope(), reuse=tf.AUTO_REUSE):
                p = tf.nn.softmax(config.build(tf.reverse(scaled, [2]) if flip else scaled))
            p = tf.reverse(p, [2]) if flip else p
            probabilities.append(p if scale == 1 else tf.image.resize_bilinear(
                p, size, half_pixel_centers=True))
    return tf.log(tf.add_n(probabilities) / float(len(probabilities)))


def build_bytes_graph(config, palette):
    """TF Serving's encoded-image interface on the variables ``build_inference_graph`` made:
    ``image_bytes`` (string [N]: JPEG, PNG or BMP files, any sizes in one batch) ->
    ``prediction`` (int32 [N, H_max, W_max], -1 beyond each image), ``height`` and ``width`` (int32
    [N]) and ``prediction_png_bytes`` (string [N]: each mask as an RGB PNG in ``palette``'s colours,
    [256, 3] uint8). Returns (inputs, outputs) dicts for a signature."""
    encoded = tf.placeholder(tf.string, [None], name=BYTES_INPUT)
    colours = tf.constant(palette, tf.uint8)

    def decode(data):
        # By the file's first bytes, with the decoders TensorFlow 1.15 has too (decode_image
        # becomes a DecodeImage op on 2.x, which 1.15 cannot load).
        head = tf.strings.substr(data, 0, 3)
        image = tf.cond(tf.equal(head, b"\xff\xd8\xff"),
                        lambda: tf.image.decode_jpeg(data, channels=3),
                        lambda: tf.cond(tf.equal(tf.strings.substr(data, 0, 2), b"BM"),
                                        lambda: tf.image.decode_bmp(data, channels=3),
                                        lambda: tf.image.decode_png(data, channels=3)))
        image.set_shape([None, None, 3])
        return image

    sizes = tf.map_fn(lambda data: tf.shape(decode(data))[:2], encoded, dtype=tf.int32)
    biggest = tf.reduce_max(sizes, 0)

    def label(data):
        with tf.variable_scope(tf.get_variable_scope(), reuse=True):
            scores = config.build(preprocess(decode(data)[None], config.convention))[0]
        labels = tf.cast(tf.argmax(scores, -1), tf.int32)
        padding = [[0, biggest[0] - tf.shape(labels)[0]], [0, biggest[1] - tf.shape(labels)[1]]]
        return (tf.pad(labels, padding, constant_values=-1),
                tf.image.encode_png(tf.gather(colours, labels)))

    labels, pngs = tf.map_fn(label, encoded, dtype=(tf.int32, tf.string), back_prop=False)
    outputs = {PREDICTION: labels, "height": sizes[:, 0], "width": sizes[:, 1],
               "prediction_png_bytes": pngs}
    return {BYTES_INPUT: encoded}, outputs
