"""Ground: what every layer stands on — names and choices, the one TensorFlow import, safe file writes, the checks of untrusted files."""
