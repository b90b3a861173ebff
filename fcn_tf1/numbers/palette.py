"""The PASCAL VOC colour map, for palette PNG masks and TensorBoard panels."""
import numpy as np


def voc_colormap(size=256):
    """[size, 3] uint8: the VOC devkit's bit-interleaved colours (class 255, void, is (224, 224, 192))."""
    colours = np.zeros((size, 3), np.uint8)
    for index in range(size):
        c, r, g, b = index, 0, 0, 0
        for shift in range(7, -1, -1):
            r |= (c & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        colours[index] = r, g, b
    return colours


def palette(class_colours=None):
    """[256, 3] uint8: a model's class colours (a folder data set's) over VOC's colour map."""
    colours = voc_colormap()
    if class_colours:
        colours[:len(class_colours)] = class_colours
    return colours
