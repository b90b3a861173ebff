"""Caffe files written as the reference writes them, by code independent of fcn_tf1's reader: a
protobuf wire-format writer, the deploy prototxt of voc-fcn32s / 16s / 8s / 8s-atonce, and random
weights in Caffe's blob layouts (deconvolutions random too, so that a transposition shows)."""
import numpy as np

# (layer, output channels at width 1): the VGG16 convolutions.
VGG = [("conv1_1", 64), ("conv1_2", 64), ("conv2_1", 128), ("conv2_2", 128), ("conv3_1", 256),
       ("conv3_2", 256), ("conv3_3", 256), ("conv4_1", 512), ("conv4_2", 512), ("conv4_3", 512),
       ("conv5_1", 512), ("conv5_2", 512), ("conv5_3", 512)]
V1_TYPE = {"Convolution": 4, "Deconvolution": 39, "InnerProduct": 14, "Scale": None}


def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number, wire, payload):
    key = varint(number << 3 | wire)
    if wire == 2:
        return key + varint(len(payload)) + payload
    return key + payload


def blob(array, legacy_shape=False, packed=True):
    """A BlobProto: shape (or num/channels/height/width) and float data."""
    array = np.asarray(array, np.float32)
    if legacy_shape:
        dims = list(array.shape)
        dims = [1] * (4 - len(dims)) + dims
        out = b"".join(field(n, 0, varint(d)) for n, d in zip((1, 2, 3, 4), dims))
    else:
        out = field(7, 2, field(1, 2, b"".join(varint(d) for d in array.shape)))
    data = array.astype("<f4").tobytes()
    if packed:
        return out + field(5, 2, data)
    return out + b"".join(field(5, 5, data[i:i + 4]) for i in range(0, len(data), 4))


def layer(name, kind, blobs, v1=False, **blob_options):
    if v1:
        return field(2, 2, field(4, 2, name.encode()) + field(5, 0, varint(V1_TYPE[kind])) +
                     b"".join(field(6, 2, blob(b, **blob_options)) for b in blobs))
    return field(100, 2, field(1, 2, name.encode()) + field(2, 2, kind.encode()) +
                 b"".join(field(7, 2, blob(b, **blob_options)) for b in blobs))


def write_caffemodel(path, layers, name="fcn", v1=False, **blob_options):
    """``layers``: [(name, type, [blobs])] in file order."""
    with open(path, "wb") as f:
        f.write(field(1, 2, name.encode()))
        for layer_name, kind, blobs in layers:
            f.write(layer(layer_name, kind, blobs, v1, **blob_options))


def _he(rng, shape, fan_in):
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)


def fcn_layers(variant="fcn8s", classes=5, width=1 / 8., seed=0, atonce=False, heads=None):
    """[(name, type, blobs)] of a reference FCN at ``width``, Caffe layouts, random values;
    ``heads``: [(suffix, classes)] of a net of several (SIFT Flow's ("_sem", 33), ("_geo", 3))."""
    rng = np.random.default_rng(seed)
    layers = _vgg_layers(rng, width)
    pool3, pool4 = [c for n, c in [(n, max(1, int(round(o * width)))) for n, o in VGG]
                    if n in ("conv3_3", "conv4_3")]
    fc = max(1, int(round(4096 * width)))
    for suffix, count in heads or [("", classes)]:
        layers += _head_layers(rng, variant, count, suffix, fc, pool4, pool3, atonce)
    return layers


def _vgg_layers(rng, width, suffix="", first="conv1_1", channels=3):
    """VGG16's layers to fc7, every name but the first ending in ``suffix``; the first named
    ``first`` taking ``channels``."""
    layers = []
    for name, out in VGG:
        out = max(1, int(round(out * width)))
        layers.append((first if name == "conv1_1" else name + suffix, "Convolution", [
            _he(rng, (out, channels, 3, 3), 9 * channels),
            rng.normal(0, 0.1, out).astype(np.float32)]))
        channels = out
    fc = max(1, int(round(4096 * width)))
    layers.append(("fc6" + suffix, "Convolution", [_he(rng, (fc, channels, 7, 7), 49 * channels),
                                                   rng.normal(0, 0.1, fc).astype(np.float32)]))
    layers.append(("fc7" + suffix, "Convolution", [_he(rng, (fc, fc, 1, 1), fc),
                                                   rng.normal(0, 0.1, fc).astype(np.float32)]))
    return layers


def fused_layers(fusion, classes=40, width=1 / 16., seed=0):
    """nyud-fcn32s-color-d (``fusion`` "early": conv1_1_bgrd on 4 channels) or -color-hha ("late":
    a stream per input, conv1_1color ... score_frcolor, conv1_1hha ... score_frhha, then upscore)
    of random values."""
    rng = np.random.default_rng(seed)
    fc = max(1, int(round(4096 * width)))
    if fusion == "early":
        layers = _vgg_layers(rng, width, first="conv1_1_bgrd", channels=4)
        return layers + _head_layers(rng, "fcn32s", classes, "", fc, None, None, False)
    layers = []
    for stream in ("color", "hha"):
        layers += _vgg_layers(rng, width, stream, "conv1_1" + stream)
        layers.append(("score_fr" + stream, "Convolution", [
            _he(rng, (classes, fc, 1, 1), fc), rng.normal(0, 0.5, classes).astype(np.float32)]))
    layers.append(("upscore", "Deconvolution", [
        (rng.standard_normal((classes, classes, 64, 64)) / 32).astype(np.float32)]))
    return layers


def _head_layers(rng, variant, classes, suffix, fc, pool4, pool3, atonce):
    layers = []

    def score(name, inputs):
        layers.append((name + suffix, "Convolution", [
            _he(rng, (classes, inputs, 1, 1), inputs),
            rng.normal(0, 0.5, classes).astype(np.float32)]))

    def deconv(name, stride):
        size = 2 * stride
        layers.append((name + suffix, "Deconvolution",
                       [(rng.standard_normal((classes, classes, size, size)) / stride)
                        .astype(np.float32)]))

    score("score_fr", fc)
    if variant == "fcn32s":
        deconv("upscore", 32)
        return layers
    # (pool, its channels, at-once scale, the deconvolution before its fuse)
    skips = [("pool4", pool4, 0.01, "upscore2"), ("pool3", pool3, 0.0001, "upscore_pool4")]
    for pool, channels, factor, upscore in skips[:1 if variant == "fcn16s" else 2]:
        deconv(upscore, 2)
        if atonce:
            layers.append(("scale_" + pool, "Scale", [np.full(channels, factor, np.float32)]))
        score("score_" + pool, channels)
    deconv("upscore16" if variant == "fcn16s" else "upscore8", 16 if variant == "fcn16s" else 8)
    return layers


def write_vgg16_caffemodel(path, weights):
    """VGG_ILSVRC_16_layers.caffemodel's layout from {layer: (conv-form kernel, bias)}: convolutions
    [out, in, kh, kw]; fc6 / fc7 / fc8 InnerProduct [out, in] with fc6's input flattened C x H x W."""
    layers = []
    for name, (kernel, bias) in weights.items():
        caffe = np.transpose(kernel, (3, 2, 0, 1))  # [out, in (C), kh (H), kw (W)]
        if name.startswith("fc"):
            layers.append((name, "InnerProduct", [caffe.reshape(caffe.shape[0], -1), bias]))
        else:
            layers.append((name, "Convolution", [caffe, bias]))
    write_caffemodel(path, layers, name="VGG_ILSVRC_16_layers")


def vgg16_deploy_prototxt(width, size=224):
    """The VGG16 classifier as the VGG authors deploy it, on a 1 x 3 x size x size input."""
    lines = ['name: "VGG_ILSVRC_16_layers"', 'input: "data"',
             "input_shape { dim: 1 dim: 3 dim: %d dim: %d }" % (size, size)]
    bottom = "data"
    for name, out in VGG:
        lines.append('layer { name: "%s" type: "Convolution" bottom: "%s" top: "%s" '
                     'convolution_param { num_output: %d pad: 1 kernel_size: 3 } }'
                     % (name, bottom, name, max(1, int(round(out * width)))))
        lines.append('layer { name: "r%s" type: "ReLU" bottom: "%s" top: "%s" }' % (name, name, name))
        bottom = name
        if name in ("conv1_2", "conv2_2", "conv3_3", "conv4_3", "conv5_3"):
            pool = "pool" + name[4]
            lines.append('layer { name: "%s" type: "Pooling" bottom: "%s" top: "%s" pooling_param '
                         '{ pool: MAX kernel_size: 2 stride: 2 } }' % (pool, name, pool))
            bottom = pool
    fc = max(1, int(round(4096 * width)))
    for name, out in (("fc6", fc), ("fc7", fc), ("fc8", 1000)):
        lines.append('layer { name: "%s" type: "InnerProduct" bottom: "%s" top: "%s" '
                     'inner_product_param { num_output: %d } }' % (name, bottom, name, out))
        if name != "fc8":
            lines.append('layer { name: "r%s" type: "ReLU" bottom: "%s" top: "%s" }'
                         % (name, name, name))
        bottom = name
    return "\n".join(lines) + "\n"


def deploy_prototxt(variant, classes, width, height, image_width, atonce=False, heads=None):
    """The reference's deploy net (voc-fcn*/net.py, deploy form) for a 1 x 3 x H x W input;
    ``heads``: [(suffix, classes)] of a net of several (siftflow-fcn*/net.py)."""
    net = _Prototxt(variant, [("data", 3)], height, image_width)
    _deploy_vgg(net.add, net.conv, "data", width)
    for suffix, count in heads or [("", classes)]:
        _deploy_head(net.add, net.conv, variant, count, suffix, atonce)
    return net.text()


class _Prototxt(object):
    """A deploy prototxt being written: its inputs ([(name, channels)] of H x W), ``add`` a layer,
    ``conv`` a convolution, ``text()``."""

    def __init__(self, name, inputs, height, width):
        self.lines = ['name: "%s"' % name]
        for blob, channels in inputs:
            self.lines += ['input: "%s"' % blob, "input_shape { dim: 1 dim: %d dim: %d dim: %d }"
                           % (channels, height, width)]

    def add(self, text):
        self.lines.append("layer { %s }" % text)

    def conv(self, name, bottom, out, kernel, pad=0):
        self.add('name: "%s" type: "Convolution" bottom: "%s" top: "%s" convolution_param { '
                 'num_output: %d pad: %d kernel_size: %d stride: 1 }' % (name, bottom, name, out,
                                                                        pad, kernel))

    def text(self):
        return "\n".join(self.lines) + "\n"


def _deploy_vgg(add, conv, bottom, width, suffix="", first="conv1_1"):
    """VGG16 to fc7 in a deploy prototxt (names as ``_vgg_layers``'), from ``bottom``."""
    for name, out in VGG:
        layer = first if name == "conv1_1" else name + suffix
        conv(layer, bottom, max(1, int(round(out * width))), 3, 100 if name == "conv1_1" else 1)
        add('name: "relu_%s" type: "ReLU" bottom: "%s" top: "%s"' % (layer, layer, layer))
        bottom = layer
        if name in ("conv1_2", "conv2_2", "conv3_3", "conv4_3", "conv5_3"):
            pool = "pool" + name[4] + suffix
            add('name: "%s" type: "Pooling" bottom: "%s" top: "%s" pooling_param { pool: MAX '
                'kernel_size: 2 stride: 2 }' % (pool, layer, pool))
            bottom = pool
    fc = max(1, int(round(4096 * width)))
    for layer, source, kernel in (("fc6", "pool5", 7), ("fc7", "fc6", 1)):
        conv(layer + suffix, source + suffix, fc, kernel)
        add('name: "relu_%s" type: "ReLU" bottom: "%s" top: "%s"' % ((layer + suffix,) * 3))


def fused_deploy_prototxt(fusion, classes, width, height, image_width):
    """nyud-fcn32s-color-d's deploy net (inputs color and depth concatenated into data) or
    -color-hha's (inputs color and hha, a stream each, score_fused = 0.5 / 0.5)."""
    inputs = [("color", 3), ("depth", 1)] if fusion == "early" else [("color", 3), ("hha", 3)]
    net = _Prototxt(fusion, inputs, height, image_width)
    add, conv = net.add, net.conv
    if fusion == "early":
        add('name: "data" type: "Concat" bottom: "color" bottom: "depth" top: "data"')
        _deploy_vgg(add, conv, "data", width, first="conv1_1_bgrd")
        conv("score_fr", "fc7", classes, 1)
        scores = "score_fr"
    else:
        for stream, _ in inputs:
            _deploy_vgg(add, conv, stream, width, stream, "conv1_1" + stream)
            conv("score_fr" + stream, "fc7" + stream, classes, 1)
        add('name: "score_fused" type: "Eltwise" bottom: "score_frcolor" bottom: "score_frhha" '
            'top: "score_fused" eltwise_param { operation: SUM coeff: 0.5 coeff: 0.5 }')
        scores = "score_fused"
    add('name: "upscore" type: "Deconvolution" bottom: "%s" top: "upscore" convolution_param { '
        'num_output: %d bias_term: false kernel_size: 64 stride: 32 }' % (scores, classes))
    add('name: "score" type: "Crop" bottom: "upscore" bottom: "color" top: "score" crop_param { '
        'axis: 2 offset: 19 }')
    return net.text()


def _deploy_head(add, conv, variant, classes, suffix, atonce):
    """One head's layers in a deploy prototxt: every name ends in ``suffix``."""
    def deconv(name, bottom, stride):
        add('name: "%s%s" type: "Deconvolution" bottom: "%s%s" top: "%s%s" convolution_param { '
            'num_output: %d bias_term: false kernel_size: %d stride: %d }'
            % (name, suffix, bottom, suffix, name, suffix, classes, 2 * stride, stride))

    def crop(name, bottom, like, offset):
        like = like if like == "data" else like + suffix
        add('name: "%s%s" type: "Crop" bottom: "%s%s" bottom: "%s" top: "%s%s" crop_param { '
            'axis: 2 offset: %d }' % (name, suffix, bottom, suffix, like, name, suffix, offset))

    def skip(pool, upscore, fuse, offset):
        source = pool
        if atonce:
            source = "scale_" + pool
            add('name: "%s" type: "Scale" bottom: "%s" top: "%s" scale_param { bias_term: false }'
                % (source, pool, source))
        conv("score_" + pool + suffix, source, classes, 1)
        crop("score_%sc" % pool, "score_" + pool, upscore, offset)
        add('name: "%s%s" type: "Eltwise" bottom: "%s%s" bottom: "score_%sc%s" top: "%s%s" '
            'eltwise_param { operation: SUM }' % (fuse, suffix, upscore, suffix, pool, suffix,
                                                  fuse, suffix))

    conv("score_fr" + suffix, "fc7", classes, 1)
    if variant == "fcn32s":
        deconv("upscore", "score_fr", 32)
        crop("score", "upscore", "data", 19)
    elif variant == "fcn16s":
        deconv("upscore2", "score_fr", 2)
        skip("pool4", "upscore2", "fuse_pool4", 5)
        deconv("upscore16", "fuse_pool4", 16)
        crop("score", "upscore16", "data", 27)
    else:
        deconv("upscore2", "score_fr", 2)
        skip("pool4", "upscore2", "fuse_pool4", 5)
        deconv("upscore_pool4", "fuse_pool4", 2)
        skip("pool3", "upscore_pool4", "fuse_pool3", 9)
        deconv("upscore8", "fuse_pool3", 8)
        crop("score", "upscore8", "data", 31)


# voc-fcn-alexnet's convolutions: (layer, output channels at width 1, kernel, stride, pad, groups).
ALEXNET = [("conv1", 96, 11, 4, 100, 1), ("conv2", 256, 5, 1, 2, 2), ("conv3", 384, 3, 1, 1, 1),
           ("conv4", 384, 3, 1, 1, 2), ("conv5", 256, 3, 1, 1, 2)]


def _even(count, width):
    return 2 * max(1, int(round(count * width / 2.)))


def alexnet_layers(classes=5, width=1 / 8., seed=0):
    """[(name, type, blobs)] of voc-fcn-alexnet at ``width`` (even channel counts: two groups)."""
    rng = np.random.default_rng(seed)
    layers, channels = [], 3
    for name, out, kernel, _, _, groups in ALEXNET:
        out, fan_in = _even(out, width), kernel * kernel * channels // groups
        layers.append((name, "Convolution", [_he(rng, (out, channels // groups, kernel, kernel),
                                                 fan_in),
                                             rng.normal(0, 0.1, out).astype(np.float32)]))
        channels = out
    fc = max(1, int(round(4096 * width)))
    layers.append(("fc6", "Convolution", [_he(rng, (fc, channels, 6, 6), 36 * channels),
                                          rng.normal(0, 0.1, fc).astype(np.float32)]))
    layers.append(("fc7", "Convolution", [_he(rng, (fc, fc, 1, 1), fc),
                                          rng.normal(0, 0.1, fc).astype(np.float32)]))
    layers.append(("score_fr", "Convolution", [_he(rng, (classes, fc, 1, 1), fc),
                                               rng.normal(0, 0.5, classes).astype(np.float32)]))
    layers.append(("upscore", "Deconvolution",
                   [(rng.standard_normal((classes, classes, 63, 63)) / 32).astype(np.float32)]))
    return layers


def alexnet_deploy_prototxt(classes, width, height, image_width):
    """voc-fcn-alexnet/net.py in deploy form for a 1 x 3 x H x W input."""
    lines = ['name: "fcn-alexnet"', 'input: "data"',
             "input_shape { dim: 1 dim: 3 dim: %d dim: %d }" % (height, image_width)]

    def add(text):
        lines.append("layer { %s }" % text)

    def relu(name):
        add('name: "relu_%s" type: "ReLU" bottom: "%s" top: "%s"' % (name, name, name))

    def pool(name, bottom):
        add('name: "%s" type: "Pooling" bottom: "%s" top: "%s" pooling_param { pool: MAX '
            'kernel_size: 3 stride: 2 }' % (name, bottom, name))

    def norm(name, bottom):
        add('name: "%s" type: "LRN" bottom: "%s" top: "%s" lrn_param { local_size: 5 alpha: 0.0001 '
            'beta: 0.75 }' % (name, bottom, name))

    bottom = "data"
    for name, out, kernel, stride, pad, groups in ALEXNET:
        add('name: "%s" type: "Convolution" bottom: "%s" top: "%s" convolution_param { '
            'num_output: %d pad: %d kernel_size: %d stride: %d group: %d }'
            % (name, bottom, name, _even(out, width), pad, kernel, stride, groups))
        relu(name)
        bottom = name
        if name in ("conv1", "conv2"):
            pool("pool" + name[-1], name)
            norm("norm" + name[-1], "pool" + name[-1])
            bottom = "norm" + name[-1]
    pool("pool5", "conv5")
    fc = max(1, int(round(4096 * width)))
    for name, bottom, kernel, out in (("fc6", "pool5", 6, fc), ("fc7", "fc6", 1, fc),
                                      ("score_fr", "fc7", 1, classes)):
        add('name: "%s" type: "Convolution" bottom: "%s" top: "%s" convolution_param { '
            'num_output: %d kernel_size: %d }' % (name, bottom, name, out, kernel))
        if name != "score_fr":
            relu(name)
    add('name: "upscore" type: "Deconvolution" bottom: "score_fr" top: "upscore" '
        'convolution_param { num_output: %d bias_term: false kernel_size: 63 stride: 32 }' % classes)
    add('name: "score" type: "Crop" bottom: "upscore" bottom: "data" top: "score" crop_param { '
        'axis: 2 offset: 18 }')
    return "\n".join(lines) + "\n"


def caffenet_layers(width=1 / 16., seed=0):
    """[(name, type, blobs)] of bvlc_reference_caffenet at ``width``: fc6 / fc7 / fc8 InnerProduct,
    fc6's input flattened C x H x W from pool5's 6x6."""
    layers = [layer for layer in alexnet_layers(2, width, seed) if layer[0].startswith("conv")]
    rng = np.random.default_rng(seed + 1)
    fc, inputs = max(1, int(round(4096 * width))), layers[-1][2][0].shape[0] * 36
    for name, out in (("fc6", fc), ("fc7", fc), ("fc8", 1000)):
        layers.append((name, "InnerProduct", [_he(rng, (out, inputs), inputs),
                                              rng.normal(0, 0.1, out).astype(np.float32)]))
        inputs = out
    return layers
