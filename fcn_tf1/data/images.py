"""Reading images and label maps with Pillow: one contract for every mode, errors that name the file.

The image contract (``read_image``), decided here once for every caller:
- the result is uint8 RGB [H, W, 3], from the first frame of an animated or multi-page file;
- 8-bit modes (L, 1, P, CMYK, YCbCr, LAB, HSV, RGB) convert as Pillow converts them;
- 16-bit grey (PNG, TIFF: modes I;16* and I with values up to 65535) scales to 0-255 by value / 257,
  not clipped; 32-bit integer images beyond 16 bits and float images are refused;
- transparency (RGBA, LA, PA, a palette's transparent index) is composited on white, as viewers
  show it;
- ``orient=True`` applies the EXIF orientation (phone photos), so the result is the image as viewers
  show it; data sets read their stored pixels, since their label maps were drawn on those;
- more than ``max_pixels`` pixels is a clear error before anything is decoded (a decompression bomb
  is a small file that decodes to gigapixels).
"""
import importlib
import warnings

import numpy as np
from PIL import Image, ImageOps

from fcn_tf1.ground.names import MODALITY_SPECS

# 100 megapixels: a 12-megapixel phone photo and most panoramas pass; about 300 MB decoded.
MAX_PIXELS = 100000000
SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N")
ALPHA = ("RGBA", "LA", "PA", "RGBa", "La")


class DataError(ValueError):
    """A problem with one file of a data set; the message starts with the file's path."""

    def __init__(self, path, problem):
        super().__init__("%s: %s" % (path, problem))
        self.path, self.problem = path, problem


def _open(path, max_pixels):
    """A Pillow image with its size checked against ``max_pixels``, not decoded yet."""
    limit = Image.MAX_IMAGE_PIXELS
    try:
        # Pillow's own bomb check runs inside open(): it must not fire below our limit.
        Image.MAX_IMAGE_PIXELS = max_pixels
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError:
        raise DataError(path, "the image has more than %d pixels, the limit (--max-pixels "
                              "raises it)" % max_pixels)
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise DataError(path, "the image is %dx%d = %d pixels, over the limit of %d "
                              "(--max-pixels raises it)" % (width, height, width * height,
                                                           max_pixels))
    return image


def _to_rgb(image, path):
    """uint8 RGB [H, W, 3] of a decoded Pillow image of any mode, by the module's contract."""
    if image.mode in SIXTEEN_BIT or image.mode == "I":
        values = np.asarray(image, np.int64)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise DataError(path, "a 32-bit integer image with values beyond 16 bits; expected an "
                                  "8- or 16-bit image")
        grey = np.round(values / 257.0).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if image.mode == "F":
        raise DataError(path, "a floating-point image; expected an 8- or 16-bit image")
    if image.mode in ALPHA or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255,) * 4), rgba)
    return np.asarray(image.convert("RGB"), np.uint8)


def read_image(path, orient=False, max_pixels=MAX_PIXELS):
    """uint8 RGB [H, W, 3] by the module's contract; ``orient`` applies the EXIF orientation."""
    try:
        with _open(path, max_pixels) as image:
            image.load()
            if orient:
                image = ImageOps.exif_transpose(image)
            return _to_rgb(image, path)
    except FileNotFoundError:
        raise DataError(path, "no such file")
    except DataError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise DataError(path, "cannot read image (%s)" % (str(error) or type(error).__name__))


def read_depth(path, max_pixels=MAX_PIXELS):
    """uint16 [H, W] of a 16-bit grayscale PNG (NYUDv2's depth, millimetres; 0 no reading)."""
    try:
        with _open(path, max_pixels) as image:
            image.load()
            if image.mode not in ("I;16", "I;16B", "I"):
                raise DataError(path, "not a 16-bit depth PNG (a %s image)" % image.mode)
            depth = np.asarray(image)
    except FileNotFoundError:
        raise DataError(path, "no such file")
    except DataError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise DataError(path, "cannot read depth (%s)" % (str(error) or type(error).__name__))
    if depth.ndim != 2 or depth.min(initial=0) < 0 or depth.max(initial=0) > 65535:
        raise DataError(path, "not a 16-bit depth map")
    return depth.astype(np.uint16)


def read_input(path, modality, max_pixels=MAX_PIXELS, orient=False):
    """One input of a model as its modality stores it: uint8 [H, W, 3] (an image, HHA) or uint16
    [H, W] (depth)."""
    if MODALITY_SPECS[modality].dtype == "uint16":
        return read_depth(path, max_pixels)
    return read_image(path, orient, max_pixels)


def read_label_png(path, max_pixels=MAX_PIXELS):
    """Class indices [H, W] from a palette ('P') or grayscale PNG, as VOC's SegmentationClass."""
    try:
        with _open(path, max_pixels) as image:
            image.load()
            if image.mode not in ("P", "L"):
                raise DataError(path, "label is a %s image; expected a palette or grayscale PNG of "
                                      "class indices" % image.mode)
            return np.asarray(image, np.uint8)
    except FileNotFoundError:
        raise DataError(path, "no such file")
    except DataError:
        raise
    except (OSError, ValueError, SyntaxError) as error:
        raise DataError(path, "cannot read label (%s)" % (str(error) or type(error).__name__))


def read_mat(path, **options):
    """The variables of a MATLAB file (``scipy.io.loadmat``: data only, nothing in it runs);
    one-line errors naming the file."""
    import scipy.io.matlab
    # Where scipy keeps it: scipy.io.matlab from 1.8, its miobase module before.
    unreadable = getattr(scipy.io.matlab, "MatReadError", None) or importlib.import_module(
        "scipy.io.matlab.miobase").MatReadError
    try:
        return scipy.io.loadmat(path, **options)
    except FileNotFoundError:
        raise DataError(path, "no such file")
    except (unreadable, OSError, ValueError, TypeError, IndexError, NotImplementedError) as error:
        raise DataError(path, "cannot read .mat (%s)" % (str(error) or type(error).__name__))


def read_mat_map(path, key, what, largest, smallest=0):
    """The 2-D map of whole numbers ``smallest``..``largest`` under ``key`` in a MATLAB file, as
    int64; a file without it (``what`` names the file's kind) or with other values is a one-line
    error."""
    mat = read_mat(path)
    if key not in mat:
        raise DataError(path, "not %s (no %s)" % (what, key))
    values = np.asarray(mat[key])
    if values.ndim != 2 or values.dtype.kind not in "iuf" or (values != np.round(values)).any():
        raise DataError(path, "%s is not a 2-D map of whole numbers" % key)
    if values.size and (values.min() < smallest or values.max() > largest):
        raise DataError(path, "%s holds numbers outside %d-%d" % (key, smallest, largest))
    return values.astype(np.int64)
