"""Check a data set before training: every file readable, labels the size of their images, label
values in [0, classes) or 255. Each problem is one line naming the file."""
import numpy as np
from tqdm import tqdm

from fcn_tf1.data.images import DataError
from fcn_tf1.ground.names import IGNORE_LABEL


def check_dataset(source, progress=False):
    """Every problem of ``source`` as a list of one-line messages (empty when all is well)."""
    problems = list(source.unpaired())
    if len(source) == 0:
        return problems + ["%s: the split is empty" % (source.split_file or source)]
    for i in tqdm(range(len(source)), desc="check data", unit="image", disable=not progress):
        try:
            image, label = source.load(i)
        except DataError as error:
            problems.append(str(error))
            continue
        problems += ["%s: %s" % (label_path(source, i), problem)
                     for problem in sample_problems(image, label, source.num_classes)]
    return problems


def label_path(source, i):
    return source.paths(i)[1] if hasattr(source, "paths") else source.name(i)


def sample_problems(image, label, num_classes):
    """What is wrong with one (image, label) pair, as one-line messages."""
    if label.shape != image.shape[:2]:
        return ["label is %dx%d but its image is %dx%d" % (
            label.shape[0], label.shape[1], image.shape[0], image.shape[1])]
    bad = np.setdiff1d(np.unique(label), np.r_[np.arange(num_classes), IGNORE_LABEL])
    if bad.size:
        return ["label values %s outside 0..%d (and %d, void)" % (
            ", ".join(str(v) for v in bad[:5]), num_classes - 1, IGNORE_LABEL)]
    return []


def class_statistics(source):
    """Per class over ``source``'s labelled pixels: (pixels, images it occurs in, labelled pixels
    of those images), three int arrays."""
    pixels, images, image_pixels = (np.zeros(source.num_classes, np.int64) for _ in range(3))
    for i in range(len(source)):
        label = source.load(i)[1]
        counts = np.bincount(label[label < source.num_classes], minlength=source.num_classes)
        pixels += counts
        images += counts > 0
        image_pixels += (counts > 0) * counts.sum()
    return pixels, images, image_pixels


def format_counts(counts, images):
    """--check-data's table: per class its pixels and images, classes that never occur flagged."""
    lines = ["%d images; per class: pixels, images" % images]
    for name, (pixels, seen) in counts.items():
        lines.append("  %-20s %12d %6d%s" % (name, pixels, seen, "   never occurs" if not seen
                                              else ""))
    return "\n".join(lines)


def class_counts(source):
    """{class name: (pixels, images)} over ``source``; what --check-data prints."""
    pixels, images, _ = class_statistics(source)
    return {name: (int(p), int(n)) for name, p, n in zip(source.class_names, pixels, images)}
