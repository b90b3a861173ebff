"""Numbers: pure numpy — the paper metrics, the VOC palette, VGG16 weight files and their shapes."""
