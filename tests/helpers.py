"""Shared by the test modules: small trained runs."""
from fcn_tf1 import training
from fcn_tf1.data.synthetic import SyntheticDataset
from fcn_tf1.inference import ModelConfig


def trained_run(directory, width=1 / 16., steps=4, shape_fix="output_shape", save_every=1):
    options = training.options_for("quick", steps=steps, batch_size=2, crop_size=(48, 48),
                                   save_every=save_every)
    options.pop("width")
    config = ModelConfig(5, "fcn8s", width, shape_fix=shape_fix,
                         class_names=SyntheticDataset.class_names)
    training.train(directory, config, SyntheticDataset("train", 8), options)
    return directory
