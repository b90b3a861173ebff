"""Reading images and label maps with Pillow, with errors that name the file."""
import numpy as np
from PIL import Image


class DataError(ValueError):
    """A problem with one file of a data set; the message starts with the file's path."""

    def __init__(self, path, problem):
        super().__init__("%s: %s" % (path, problem))
        self.path, self.problem = path, problem


def read_image(path):
    """uint8 RGB [H, W, 3]; grayscale, RGBA and palette images are converted, not refused."""
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
                # Composite transparency on white, as viewers show it, instead of dropping alpha.
                rgba = image.convert("RGBA")
                image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255,) * 4), rgba)
            return np.asarray(image.convert("RGB"), np.uint8)
    except FileNotFoundError:
        raise DataError(path, "no such file")
    except (OSError, ValueError, SyntaxError) as error:
        raise DataError(path, "cannot read image (%s)" % (str(error) or type(error).__name__))


def read_label_png(path):
    """Class indices [H, W] from a palette ('P') or grayscale PNG, as VOC's SegmentationClass."""
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode not in ("P", "L"):
                raise DataError(path, "label is a %s image; expected a palette or grayscale PNG of "
                                      "class indices" % image.mode)
            return np.asarray(image, np.uint8)
    except FileNotFoundError:
        raise DataError(path, "no such file")
    except (OSError, ValueError, SyntaxError) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(path, "cannot read label (%s)" % (str(error) or type(error).__name__))
