"""Names and ranges that flags, help texts and the model code share, free of TensorFlow so that
``--help`` stays instant."""

# The backbone's channel multiplier: 1/64 keeps one channel in conv1; 4 is far beyond any use and
# keeps a config from asking for terabytes.
MIN_WIDTH, MAX_WIDTH = 1 / 64., 4.0
