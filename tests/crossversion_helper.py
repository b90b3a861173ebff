"""Run by tests/test_crossversion.py under another TensorFlow: export a model, or predict with one.

    python tests/crossversion_helper.py export RUN_DIR OUT.npz    # train a tiny model, export, predict
    python tests/crossversion_helper.py predict RUN_DIR OUT.npz   # predict with RUN_DIR's exports
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SIZES = [(33, 34), (1, 1), (224, 224), (375, 500)]


def images():
    rng = np.random.RandomState(7)
    return [rng.randint(0, 256, size + (3,), dtype=np.uint8) for size in SIZES]


def export(run_dir):
    from fcn_tf1.workflows import export_writers, recipes, training
    from fcn_tf1.data.synthetic import SyntheticDataset
    from fcn_tf1.model.config import ModelConfig
    options = recipes.options_for("quick", steps=3, batch_size=2, crop_size=(48, 48))
    config = ModelConfig(5, "fcn8s", recipes.width_for("quick") / 2,
                         class_names=SyntheticDataset.class_names)
    training.train(run_dir, config, SyntheticDataset("train", 8), options, log=lambda *a: None)
    export_writers.export_frozen(run_dir, os.path.join(run_dir, "model.pb"))
    export_writers.export_saved_model(run_dir, os.path.join(run_dir, "saved"))


def predict(run_dir):
    """{'frozen_logits_i', 'frozen_labels_i', 'saved_logits_i', 'saved_labels_i'} per image."""
    from fcn_tf1.predict import FrozenModel
    from fcn_tf1.ground.tf_compat import TF_VERSION, tf
    out = {"tensorflow": np.array(TF_VERSION)}
    with FrozenModel(os.path.join(run_dir, "model.pb"), runtime="tf") as model:
        for i, image in enumerate(images()):
            out["frozen_logits_%d" % i], out["frozen_labels_%d" % i] = model.run(image)
    with tf.Graph().as_default(), tf.Session() as session:
        meta = tf.saved_model.loader.load(session, ["serve"], os.path.join(run_dir, "saved"))
        signature = meta.signature_def["serving_default"]
        fetch = [signature.outputs[k].name for k in ("logits", "prediction")]
        for i, image in enumerate(images()):
            out["saved_logits_%d" % i], out["saved_labels_%d" % i] = session.run(
                fetch, {signature.inputs["image"].name: image})
    return out


if __name__ == "__main__":
    command, run_dir, npz = sys.argv[1:4]
    if command == "export":
        export(run_dir)
    np.savez(npz, **predict(run_dir))
