"""The synthetic set written as a folder data set, for a user to copy and for the README's first
own-data commands on a fresh machine: JPEG images, RGB colour masks (void in VOC's void colour),
``classes.txt`` with each class's colour, ``train.txt`` / ``val.txt``."""
import os

from PIL import Image

from fcn_tf1.data.synthetic import CLASS_NAMES, SyntheticDataset
from fcn_tf1.ground import fileutil
from fcn_tf1.ground.names import IGNORE_LABEL
from fcn_tf1.numbers.palette import voc_colormap


def write_example(root, train=60, val=12, seed=0):
    """Write the folder data set into ``root`` (refused when it exists and is not empty)."""
    if os.path.isdir(root) and os.listdir(root):
        raise ValueError("%s: not empty; choose a new folder for the example" % root)
    colours = voc_colormap()
    for sub in ("images", "masks"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    for split, size in (("train", train), ("val", val)):
        source, stems = SyntheticDataset(split, size, seed), []
        for i in range(size):
            image, label = source.load(i)
            stem = "%s_%04d" % (split, i)
            with fileutil.atomic_path(os.path.join(root, "images", stem + ".jpg")) as tmp:
                Image.fromarray(image).save(tmp, format="JPEG", quality=95)
            with fileutil.atomic_path(os.path.join(root, "masks", stem + ".png")) as tmp:
                Image.fromarray(colours[label]).save(tmp, format="PNG")
            stems.append(stem)
        fileutil.write_bytes(os.path.join(root, split + ".txt"),
                             "".join(s + "\n" for s in stems).encode("ascii"))
    lines = ["%s %d %d %d" % ((name,) + tuple(int(c) for c in colours[i]))
             for i, name in enumerate(CLASS_NAMES)]
    lines.append("void %d %d %d" % tuple(int(c) for c in colours[IGNORE_LABEL]))
    fileutil.write_bytes(os.path.join(root, "classes.txt"), ("\n".join(lines) + "\n").encode())
    return root
