"""From losses to an update: the optimiser, data-parallel towers, the reference's multipliers
(weight decay on kernels only, biases at twice the rate), gradient accumulation, and a stop before
any update when the loss is not finite."""
from fcn_tf1.ground.names import OPTIMIZERS
from fcn_tf1.ground.tf_compat import tf
from fcn_tf1.model.loss import segmentation_loss
from fcn_tf1.model.preprocessing import preprocessed

NOT_FINITE = "loss is NaN or Inf"


def tower_losses(config, batches, devices, loss="mean", class_weights=None, **build_kwargs):
    """One copy of the model per device, each on its own (images, labels) batch, all sharing the
    variables that tower 0 creates. A model of several heads (labels [B, H, W, heads]) sums its
    heads' losses, each over its own labelled pixels, as the reference's nets do. Returns ([loss
    per tower], tower 0's logits of the first head)."""
    losses, heads = [], config.heads
    for i, ((images, labels), device) in enumerate(zip(batches, devices)):
        # Tower 0 keeps the plain op names; the others are under tower_<i>.
        with tf.device(device), tf.name_scope("tower_%d" % i if i else None), \
                tf.variable_scope(tf.get_variable_scope(), reuse=bool(i)):
            tower_logits = config.build_heads(preprocessed(config, images), **build_kwargs)
            per_head = [labels] if len(heads) == 1 else [labels[..., k] for k in range(len(heads))]
            losses.append(tf.add_n([
                segmentation_loss(logits, head_labels, head.num_classes, loss, class_weights)
                for logits, head_labels, head in zip(tower_logits, per_head, heads)]))
        if i == 0:
            logits = tower_logits[0]
    return losses, logits


def make_optimizer(options, rate, replicas=1):
    if options.optimizer == "adam":
        optimizer = tf.train.AdamOptimizer(rate)
    elif options.optimizer == "sgd":
        optimizer = tf.train.GradientDescentOptimizer(rate)
    elif options.optimizer == "momentum":
        optimizer = tf.train.MomentumOptimizer(rate, options.momentum)
    else:
        raise ValueError("optimizer must be one of %s, got %r"
                         % (OPTIMIZERS, options.optimizer))
    if options.sync_replicas and replicas > 1:
        # Every update waits for one gradient from each replica (chief and workers) and applies
        # their mean; the default is asynchronous, each replica updating on its own.
        optimizer = tf.train.SyncReplicasOptimizer(optimizer, replicas_to_aggregate=replicas,
                                                   total_num_replicas=replicas)
    return optimizer


def combine_towers(tensors, loss="mean"):
    """The towers' losses or gradients as one batch of all their images gives them: the mean for
    a normalised loss, the sum for a summed one."""
    if len(tensors) == 1:
        return tensors[0]
    return tf.add_n(tensors) / (len(tensors) if loss == "mean" else 1)


class TrainOp(object):
    """What ``build_train_op`` makes: ``train`` (one update), ``accumulate`` (add one batch's
    gradients without updating, or None), ``total`` (loss + decay) and the ``optimizer``."""

    def __init__(self, train, accumulate, total, optimizer):
        self.train, self.accumulate, self.total, self.optimizer = train, accumulate, total, optimizer


def _weight_decay(options):
    kernels = [v for v in tf.trainable_variables() if v.op.name.endswith("kernel")]
    if not options.weight_decay or not kernels:
        return 0.0
    return options.weight_decay * tf.add_n([tf.nn.l2_loss(k) for k in kernels])


def _gradients(optimizer, totals, options):
    """Each variable's gradient, combined over the towers, biases' multiplied by bias_lr_mult;
    computed only once every tower's objective is finite."""
    checks = [tf.debugging.assert_all_finite(t, NOT_FINITE) for t in totals]
    tower_grads = []
    for tower_total in totals:
        with tf.control_dependencies(checks):
            tower_grads.append([(g, v) for g, v in optimizer.compute_gradients(
                tower_total, colocate_gradients_with_ops=True) if g is not None])
    # zip(*tower_grads): one variable's (gradient, variable) pair in every tower.
    grads = [(combine_towers([g for g, _ in pairs], options.loss), pairs[0][1])
             for pairs in zip(*tower_grads)]
    return [(g * options.bias_lr_mult if v.op.name.endswith("bias") else g, v)
            for g, v in grads]


def build_train_op(losses, options, rate, global_step, replicas=1, local_device=None):
    """A ``TrainOp`` for one loss per tower (data-parallel copies of the model on several devices):
    their gradients are averaged (normalised loss) or summed (summed loss), as one batch of all the
    towers' images would give. ``replicas`` > 1 with ``sync_replicas`` makes updates synchronous
    across a cluster; ``local_device`` keeps the accumulation buffers on this task."""
    decay = _weight_decay(options)
    # Each tower's objective carries the decay, weighted so that the combination counts it once.
    totals = [loss + (decay if options.loss == "mean" else decay / len(losses)) for loss in losses]
    total = tf.identity(combine_towers(totals, options.loss), name="total_loss")
    optimizer = make_optimizer(options, rate, replicas)
    grads = _gradients(optimizer, totals, options)
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    if options.accumulate <= 1:
        with tf.control_dependencies(updates):
            return TrainOp(optimizer.apply_gradients(grads, global_step), None, total, optimizer)
    train, accumulate = _accumulated(optimizer, grads, options, global_step, updates, local_device)
    return TrainOp(train, accumulate, total, optimizer)


def _accumulated(optimizer, grads, options, global_step, updates, local_device):
    """Gradient accumulation: ``accumulate`` runs add into buffers, then one update applies their
    mean (normalised loss) or sum (summed loss) and clears them. Returns (train, accumulate)."""
    with tf.device(local_device):
        buffers = [tf.Variable(tf.zeros_like(v.initialized_value()), trainable=False,
                               collections=[tf.GraphKeys.LOCAL_VARIABLES], name="accum")
                   for _, v in grads]
    accumulate_op = tf.group(*[b.assign_add(g) for b, (g, _) in zip(buffers, grads)])
    scale = 1.0 / options.accumulate if options.loss == "mean" else 1.0
    with tf.control_dependencies([accumulate_op] + updates):
        apply_op = optimizer.apply_gradients(
            [(b * scale, v) for b, (_, v) in zip(buffers, grads)], global_step)
    with tf.control_dependencies([apply_op]):
        return tf.group(*[b.assign(tf.zeros_like(b)) for b in buffers]), accumulate_op
