"""The model: VGG16 backbone, FCN heads, the shape strategies, preprocessing, the config, loaded models."""
