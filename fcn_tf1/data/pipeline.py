"""``tf.data`` input pipelines over any data set of ``fcn_tf1.data`` (whole images or random crops)."""
import numpy as np

from fcn_tf1.ground.names import IGNORE_LABEL, MODALITY_SPECS, SLIM_RGB
from fcn_tf1.ground.tf_compat import tf


def _modalities(source):
    return tuple(source.inputs or (source.modality,))


def _loader(source):
    def load(index):
        image, label = source.load(int(index))
        if source.inputs:
            return tuple(image[m] for m in source.inputs) + (label,)
        return image, label
    return load


# tf.data's map runs AutoGraph over what it calls; let into the reader, it converted every call of
# ``source.load`` anew at run time (Pillow's methods included): 13 s a step on 144 small VOC files.
@tf.autograph.experimental.do_not_convert
def load_example(source, index):
    """(image uint8 [H, W, 3] (or {modality: input} of a set of several inputs, depth uint16
    [H, W]), label uint8 [H, W], or [H, W, tasks] of a set labelled for several) of sample
    ``index`` (a scalar tensor)."""
    modalities = _modalities(source)
    dtypes = [tf.as_dtype(MODALITY_SPECS[m].dtype) for m in modalities]
    values = tf.py_func(_loader(source), [index], dtypes + [tf.uint8], stateful=False)
    inputs, label = values[:-1], values[-1]
    for x, modality in zip(inputs, modalities):
        channels = MODALITY_SPECS[modality].channels
        x.set_shape([None, None] + ([channels] if channels > 1 else []))
    label.set_shape([None, None] + ([len(source.heads)] if source.heads else []))
    return (inputs[0] if len(inputs) == 1 else dict(zip(modalities, inputs))), label


@tf.autograph.experimental.do_not_convert  # plain graph code: tf.cond where it branches
def augment(image, label, mean_rgb, crop_size=None, flip=False, scale_range=None):
    """Random scale, horizontal flip and crop (padding with ``mean_rgb`` (the mean colour, or
    {modality: its pad values} of several inputs) / 255 where too small); several inputs and a
    label [H, W, tasks] move with the image as one of each does."""
    named = image if isinstance(image, dict) else {None: image}
    pads = mean_rgb if isinstance(mean_rgb, dict) else {None: mean_rgb}
    # Every input as float32 channels side by side, then the labels.
    parts = [(name, x.dtype, x.shape.ndims) for name, x in named.items()]
    stacked = tf.concat([tf.cast(x if x.shape.ndims == 3 else x[..., None], tf.float32)
                         for x in named.values()], -1)
    fill = [float(round(v)) for name in named for v in pads[name]]
    labels = label if label.shape.ndims == 3 else label[..., None]
    if scale_range:
        size = tf.cast(tf.shape(stacked)[:2], tf.float32)
        new_size = tf.cast(tf.round(size * tf.random_uniform([], *scale_range)), tf.int32)
        new_size = tf.maximum(new_size, 1)
        stacked = tf.image.resize_bilinear(stacked[None], new_size)[0]
        labels = tf.image.resize_nearest_neighbor(labels[None], new_size)[0]
    if flip:
        do = tf.random_uniform([]) < 0.5
        stacked = tf.cond(do, lambda: tf.reverse(stacked, [1]), lambda: stacked)
        labels = tf.cond(do, lambda: tf.reverse(labels, [1]), lambda: labels)
    if crop_size:
        ch, cw = crop_size
        h, w = tf.shape(stacked)[0], tf.shape(stacked)[1]
        pad_h, pad_w = tf.maximum(ch - h, 0), tf.maximum(cw - w, 0)
        # Pad with the mean colour (zero after preprocessing) and the void label, then crop.
        stacked = tf.stack([tf.pad(stacked[..., c], [[0, pad_h], [0, pad_w]], constant_values=v)
                            for c, v in enumerate(fill)], -1)
        labels = tf.pad(labels, [[0, pad_h], [0, pad_w], [0, 0]], constant_values=IGNORE_LABEL)
        tasks = labels.shape.as_list()[-1]
        both = tf.random_crop(tf.concat([stacked, tf.cast(labels, tf.float32)], -1),
                              [ch, cw, len(fill) + tasks])
        stacked, labels = both[..., :len(fill)], tf.cast(both[..., len(fill):], tf.uint8)
    out, start = {}, 0
    for name, dtype, ndims in parts:
        count = len(pads[name])
        x = tf.cast(stacked[..., start:start + count], dtype)
        out[name], start = (x if ndims == 3 else x[..., 0]), start + count
    return (out if None not in out else out[None]), (
        labels if label.shape.ndims == 3 else labels[..., 0])


def images_per_second(source, batch_size=8, crop_size=(320, 320), batches=20, threads=2):
    """What the training input pipeline delivers, after a warm-up batch (``data speed``)."""
    import time
    with tf.Graph().as_default(), tf.Session(config=tf.ConfigProto(
            intra_op_parallelism_threads=threads, inter_op_parallelism_threads=threads)) as session:
        data = make_dataset(source, batch_size, crop_size, True, (0.5, 1.5), threads=threads)
        batch = tf.data.make_one_shot_iterator(data).get_next()
        session.run(batch)
        start = time.perf_counter()
        for _ in range(batches):
            session.run(batch)
        return batches * batch_size / (time.perf_counter() - start)


def make_dataset(source, batch_size=1, crop_size=None, flip=False, scale_range=None,
                 shuffle=True, repeat=True, seed=0, mean_rgb=SLIM_RGB.mean,
                 num_shards=1, shard_index=0, threads=2):
    """A ``tf.data.Dataset`` of (images uint8 [B, H, W, 3], labels uint8 [B, H, W], or
    [B, H, W, tasks] of a set labelled for several).

    Whole images of any size go at batch 1, as in the paper; a batch of several needs ``crop_size``.
    ``num_shards`` / ``shard_index`` give each worker of a cluster a disjoint part of the data.
    """
    if batch_size > 1 and not crop_size:
        raise ValueError("batch_size %d needs crop_size: whole images of different sizes go at "
                         "batch 1 (use gradient accumulation for larger batches)" % batch_size)
    if hasattr(source, "shard") and num_shards > 1:  # TFRecords: a worker opens its own shards
        source, num_shards, shard_index = source.shard(num_shards, shard_index), 1, 0
    if len(source) == 0:
        raise ValueError("the data set is empty")
    indices = tf.data.Dataset.from_tensor_slices(np.arange(len(source), dtype=np.int64))
    indices = indices.shard(num_shards, shard_index)
    if shuffle:
        indices = indices.shuffle(len(source), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        indices = indices.repeat()
    data = indices.map(lambda i: load_example(source, i), num_parallel_calls=threads)
    if crop_size or flip or scale_range:
        data = data.map(lambda image, label: augment(image, label, mean_rgb, crop_size, flip,
                                                     scale_range), num_parallel_calls=threads)
    return data.batch(batch_size, drop_remainder=bool(repeat)).prefetch(2)
