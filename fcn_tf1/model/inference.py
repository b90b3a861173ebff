"""The inference graph of a model: uint8 image in, logits and labels out.

The same graph is used for evaluation, export (frozen GraphDef / SavedModel) and benchmarks, so the
preprocessing (channel order, mean) always travels inside it.
"""
import collections

from fcn_tf1.ground.names import BYTES_INPUT
from fcn_tf1.ground.tf_compat import tf
from fcn_tf1.model.preprocessing import preprocess


def build_inference_graph(config, input_shape=None, tta=None):
    """Add the inference graph of ``config`` (a ``ModelConfig``) to the default graph.

    The input ``image`` is uint8 RGB, [H, W, 3] or [N, H, W, 3] (or exactly ``input_shape``); the
    outputs ``logits`` (float32, the input's shape with C channels) and ``prediction`` (int32 labels,
    the input's shape without channels) have the input's rank. With ``tta`` (a ``numbers.tta.TTA``)
    the logits are the log of the softmax probabilities averaged over its copies (``tta_scores``).
    Returns (image, logits, prediction); a model of several heads has ``logits_<head>`` and
    ``prediction_<head>`` for each, of which the first head's are returned (``build_heads_graph``
    returns every head's).
    """
    image, outputs = build_heads_graph(config, input_shape, tta)
    return image, outputs[0], outputs[1]


def build_heads_graph(config, input_shape=None, tta=None):
    """(the input placeholder, or [one per input] of a model of several, [logits, prediction] of
    each head in turn): see ``build_inference_graph``. Every input has the first one's height and
    width (a one-line error at run time otherwise)."""
    signature = config.signature
    placeholders, inputs = [], collections.OrderedDict()
    for item, spec in zip(signature.inputs, config.inputs):
        shape = None if input_shape is None else list(input_shape[:2]) + item.shape[2:]
        placeholder = tf.placeholder(item.dtype, shape, name=item.name)
        placeholders.append(placeholder)
        inputs[item.modality] = preprocess(_batch(placeholder, item, shape), spec.convention)
    first = placeholders[0]
    checks = [tf.assert_equal(_spatial(p, i), _spatial(first, signature.inputs[0]),
                              message="the inputs differ in height or width")
              for p, i in zip(placeholders[1:], signature.inputs[1:])]
    with tf.control_dependencies(checks):
        net = inputs[config.inputs[0].modality] if len(inputs) == 1 else {
            name: tf.identity(x) for name, x in inputs.items()}
    scores = config.build_heads(net) if tta is None else tta_scores(config, net, tta)
    # The outputs have the first input's shape without its channels.
    out_shape = tf.shape(first)[:-1] if len(signature.inputs[0].shape) == 3 else tf.shape(first)
    outputs = []
    for head, head_scores in zip(signature.heads, scores):
        logits = tf.reshape(head_scores, tf.concat([out_shape, [head.classes]], 0),
                            name=head.logits)
        if input_shape is not None:
            logits.set_shape(list(input_shape[:2]) + [head.classes])
        outputs += [logits, tf.cast(tf.argmax(logits, -1), tf.int32, name=head.prediction)]
    return placeholders[0] if len(placeholders) == 1 else placeholders, outputs


def _spatial(placeholder, item):
    """(H, W) of an input: [..., H, W, C], or [..., H, W] of one without channels."""
    shape = tf.shape(placeholder)
    return shape[-3:-1] if len(item.shape) == 3 else shape[-2:]


def _batch(placeholder, item, input_shape):
    """The input as a batch [N, H, W, C], its rank and channels checked."""
    rank, channels = len(item.shape), item.shape[2] if len(item.shape) == 3 else 1
    shape = tf.shape(placeholder)
    checks = [tf.assert_rank_in(placeholder, [rank, rank + 1], message="%s must be [%s] or [N, %s]"
                                % (item.name, _dims(item), _dims(item)))]
    if rank == 3:
        checks.append(tf.assert_equal(shape[-1], channels, message="%s must have %d channels"
                                      % (item.name, channels)))
    with tf.control_dependencies(checks):
        height, width = (shape[-3], shape[-2]) if rank == 3 else (shape[-2], shape[-1])
        batch = tf.reshape(placeholder, tf.stack([-1, height, width, channels]))
    if input_shape is not None:
        batch.set_shape([1] + list(input_shape[:2]) + [channels])
    return batch


def _dims(item):
    return ", ".join("HWC"[:len(item.shape)])


def _each(images, fn):
    """``fn`` of a preprocessed input, or of each of an {modality: input}."""
    if isinstance(images, dict):
        return collections.OrderedDict((name, fn(x)) for name, x in images.items())
    return fn(images)


def tta_scores(config, images, tta):
    """[log of the softmax probabilities] of each head of ``config``'s model averaged over
    ``tta``'s flipped and rescaled copies of ``images`` (preprocessed, [N, H, W, C], or an
    {modality: such} each copied alike), each resized back bilinearly: the softmax of these scores
    is that average, their argmax its labels."""
    first = next(iter(images.values())) if isinstance(images, dict) else images
    size = tf.shape(first)[1:3]
    probabilities = []
    for scale in tta.scales:
        scaled = images if scale == 1 else _each(images, lambda x: tf.image.resize_bilinear(
            x, tf.cast(tf.round(tf.cast(size, tf.float32) * scale), tf.int32),
            half_pixel_centers=True))
        for flip in (False, True) if tta.flip else (False,):
            with tf.variable_scope(tf.get_variable_scope(), reuse=tf.AUTO_REUSE):
                heads = config.build_heads(_each(scaled, lambda x: tf.reverse(x, [2]))
                                           if flip else scaled)
            copy = []
            for p in map(tf.nn.softmax, heads):
                p = tf.reverse(p, [2]) if flip else p
                copy.append(p if scale == 1 else tf.image.resize_bilinear(
                    p, size, half_pixel_centers=True))
            probabilities.append(copy)
    return [tf.log(tf.add_n(list(head)) / float(len(head))) for head in zip(*probabilities)]


def build_bytes_graph(config, palettes):
    """TF Serving's encoded-image interface on the variables ``build_inference_graph`` made:
    ``image_bytes`` (string [N]: JPEG, PNG or BMP files, any sizes in one batch) ->
    ``prediction`` (int32 [N, H_max, W_max], -1 beyond each image), ``height`` and ``width`` (int32
    [N]) and ``prediction_png_bytes`` (string [N]: each mask as an RGB PNG in the head's palette's
    colours, ``palettes``: [256, 3] uint8 per head); a model of several heads has
    ``prediction_<head>`` and ``prediction_<head>_png_bytes`` for each. Returns (inputs, outputs)
    dicts for a signature."""
    encoded = tf.placeholder(tf.string, [None], name=BYTES_INPUT)
    heads = config.signature.heads
    colours = [tf.constant(palette, tf.uint8) for palette in palettes]

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
            scores = config.build_heads(preprocess(decode(data)[None], config.convention))
        outputs = []
        for head_scores, head_colours in zip(scores, colours):
            labels = tf.cast(tf.argmax(head_scores[0], -1), tf.int32)
            padding = [[0, biggest[0] - tf.shape(labels)[0]],
                       [0, biggest[1] - tf.shape(labels)[1]]]
            outputs += [tf.pad(labels, padding, constant_values=-1),
                        tf.image.encode_png(tf.gather(head_colours, labels))]
        return tuple(outputs)

    labelled = tf.map_fn(label, encoded, dtype=(tf.int32, tf.string) * len(heads),
                         back_prop=False)
    outputs = {"height": sizes[:, 0], "width": sizes[:, 1]}
    for head, labels, pngs in zip(heads, labelled[::2], labelled[1::2]):
        outputs.update({head.prediction: labels, head.prediction + "_png_bytes": pngs})
    return {BYTES_INPUT: encoded}, outputs
