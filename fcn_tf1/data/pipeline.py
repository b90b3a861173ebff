"""``tf.data`` input pipelines over any data set of ``fcn_tf1.data`` (whole images or random crops)."""
import numpy as np

from fcn_tf1.ground.names import IGNORE_LABEL, SLIM_RGB
from fcn_tf1.ground.tf_compat import tf


def _loader(source):
    def load(index):
        image, label = source.load(int(index))
        return image, label
    return load


# tf.data's map runs AutoGraph over what it calls; let into the reader, it converted every call of
# ``source.load`` anew at run time (Pillow's methods included): 13 s a step on 144 small VOC files.
@tf.autograph.experimental.do_not_convert
def load_example(source, index):
    """(image uint8 [H, W, 3], label uint8 [H, W]) of sample ``index`` (a scalar tensor)."""
    image, label = tf.py_func(_loader(source), [index], [tf.uint8, tf.uint8], stateful=False)
    image.set_shape([None, None, 3])
    label.set_shape([None, None])
    return image, label


def augment(image, label, mean_rgb, crop_size=None, flip=False, scale_range=None):
    """Random scale, horizontal flip and crop (padding with the mean colour / 255 where too small)."""
    if scale_range:
        size = tf.cast(tf.shape(image)[:2], tf.float32)
        new_size = tf.cast(tf.round(size * tf.random_uniform([], *scale_range)), tf.int32)
        new_size = tf.maximum(new_size, 1)
        image = tf.cast(tf.image.resize_bilinear(image[None], new_size)[0], tf.uint8)
        label = tf.image.resize_nearest_neighbor(label[None, ..., None], new_size)[0, ..., 0]
    if flip:
        do = tf.random_uniform([]) < 0.5
        image = tf.cond(do, lambda: tf.reverse(image, [1]), lambda: image)
        label = tf.cond(do, lambda: tf.reverse(label, [1]), lambda: label)
    if crop_size:
        ch, cw = crop_size
        h, w = tf.shape(image)[0], tf.shape(image)[1]
        pad_h, pad_w = tf.maximum(ch - h, 0), tf.maximum(cw - w, 0)
        # Pad with the mean colour (zero after preprocessing) and the void label, then crop.
        channels = [tf.pad(image[..., c], [[0, pad_h], [0, pad_w]], constant_values=int(round(m)))
                    for c, m in enumerate(mean_rgb)]
        image = tf.stack(channels, -1)
        label = tf.pad(label, [[0, pad_h], [0, pad_w]], constant_values=IGNORE_LABEL)
        both = tf.random_crop(tf.concat([image, label[..., None]], -1), [ch, cw, 4])
        image, label = both[..., :3], both[..., 3]
    return image, label


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
    """A ``tf.data.Dataset`` of (images uint8 [B, H, W, 3], labels uint8 [B, H, W]).

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
