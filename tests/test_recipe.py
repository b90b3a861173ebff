"""Every element of the reference's recipe that is easy to get silently wrong, each checked against
numbers computed by hand: the void label, the biases' learning-rate and decay multipliers, which
deconvolutions learn."""
import numpy as np
import pytest

from fcn_tf1.ground.tf_compat import tf
from fcn_tf1.model.fcn import build_fcn
from fcn_tf1.model.loss import segmentation_loss
from fcn_tf1.workflows import recipes
from fcn_tf1.workflows.optimisation import build_train_op


def softmax_xent(logits, label):
    shifted = logits - logits.max()
    return np.log(np.exp(shifted).sum()) - shifted[label]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_the_loss_skips_void_pixels_whatever_their_scores(session, reduction):
    rng = np.random.RandomState(0)
    logits = rng.normal(0, 3, (1, 2, 3, 4)).astype(np.float32)
    labels = np.array([[[0, 3, 255], [255, 2, 1]]])
    loss = segmentation_loss(tf.constant(logits), tf.constant(labels), 4, reduction)
    terms = [softmax_xent(logits[0, i, j], labels[0, i, j]) for i in range(2) for j in range(3)
             if labels[0, i, j] != 255]
    expected = np.sum(terms) if reduction == "sum" else np.mean(terms)
    assert session.run(loss) == pytest.approx(expected, rel=1e-5)
    logits[0, 0, 2] += 100  # a void pixel's scores change nothing
    changed = segmentation_loss(tf.constant(logits), tf.constant(labels), 4, reduction)
    assert session.run(changed) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_class_weights_scale_each_pixel_by_its_true_class(session, reduction):
    rng = np.random.RandomState(1)
    logits = rng.normal(0, 3, (1, 2, 3, 4)).astype(np.float32)
    labels = np.array([[[0, 3, 255], [1, 2, 1]]])
    weights = [0.5, 2.0, 1.0, 4.0]
    loss = segmentation_loss(tf.constant(logits), tf.constant(labels), 4, reduction, weights)
    pixels = [(i, j) for i in range(2) for j in range(3) if labels[0, i, j] != 255]
    terms = [weights[labels[0, i, j]] * softmax_xent(logits[0, i, j], labels[0, i, j])
             for i, j in pixels]
    expected = np.sum(terms) / (1 if reduction == "sum" else len(pixels))
    assert session.run(loss) == pytest.approx(expected, rel=1e-5)


def test_median_frequency_weights_by_hand():
    from fcn_tf1.numbers.metrics import median_frequency_weights
    # class 0: 60 px of 100 labelled in the images it is in; 1: 10 of 100; 2: 30 of 50; 3: absent
    weights = median_frequency_weights([60, 10, 30, 0], [100, 100, 50, 0])
    frequencies = [0.6, 0.1, 0.6]  # median 0.6
    assert weights.tolist() == pytest.approx([0.6 / f for f in frequencies] + [0.0])


def test_biases_learn_at_twice_the_rate_without_decay(session):
    """One SGD step: kernel -= lr * (grad + decay * kernel); bias -= lr * 2 * grad, no decay."""
    kernel_grad, bias_grad = np.array([1.0, -2.0], np.float32), np.array([0.5], np.float32)
    with tf.variable_scope("layer"):
        kernel = tf.get_variable("kernel", initializer=np.array([3.0, 4.0], np.float32))
        bias = tf.get_variable("bias", initializer=np.array([5.0], np.float32))
    loss = tf.reduce_sum(kernel * kernel_grad) + tf.reduce_sum(bias * bias_grad)
    options = recipes.options_for(optimizer="sgd", weight_decay=0.1, bias_lr_mult=2.0, loss="sum")
    step = tf.train.get_or_create_global_step()
    ops = build_train_op([loss], options, 0.01, step)
    session.run(tf.global_variables_initializer())
    session.run(ops.train)
    np.testing.assert_allclose(session.run(kernel),
                               [3.0 - 0.01 * (1.0 + 0.1 * 3.0), 4.0 - 0.01 * (-2.0 + 0.1 * 4.0)],
                               rtol=1e-6)
    np.testing.assert_allclose(session.run(bias), [5.0 - 0.01 * 2.0 * 0.5], rtol=1e-6)


def test_the_alexnet_preset_is_voc_fcn_alexnets_solver():
    # voc-fcn-alexnet/solver.prototxt: base_lr 1e-4 fixed, momentum 0.9, iter_size 20, max_iter
    # 100000, weight_decay 5e-4; its net.py: upscore lr_mult 0, biases lr_mult 2 / decay 0.
    options = recipes.options_for("alexnet")
    assert (options.learning_rate, options.momentum, options.accumulate, options.steps,
            options.weight_decay, options.bias_lr_mult, options.batch_size, options.loss,
            options.train_upsampling, options.optimizer) == (
        1e-4, 0.9, 20, 100000, 5e-4, 2.0, 1, "mean", "none", "momentum")


@pytest.mark.parametrize("preset,learned", [
    ("heavy", []), ("cvpr", ["upscore2/kernel", "upscore_pool4/kernel"]),
    ("quick", ["upscore2/kernel", "upscore8/kernel", "upscore_pool4/kernel"])])
def test_which_deconvolutions_learn_under_each_preset(graph, preset, learned):
    options = recipes.options_for(preset)
    build_fcn(tf.placeholder(tf.float32, [1, 64, 64, 3]), 3, "fcn8s", width=1 / 16.,
              is_training=True, train_upsampling=options.train_upsampling)
    assert sorted(v.op.name for v in tf.trainable_variables()
                  if v.op.name.startswith("upscore")) == learned
