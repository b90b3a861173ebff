"""Names and ranges that flags, help texts and the model code share, free of TensorFlow so that
``--help`` stays instant."""

# The backbone's channel multiplier: 1/64 keeps one channel in conv1; 4 is far beyond any use and
# keeps a config from asking for terabytes.
MIN_WIDTH, MAX_WIDTH = 1 / 64., 4.0

# The TensorFlow releases fcn_tf1 runs on (2.16+ through tf-keras), and the newest tested here.
TENSORFLOW_SUPPORTED = "1.15 or 2.13-2.21"
TENSORFLOW_NEWEST_TESTED = (2, 21)
