"""Check a data set before training: every file readable, labels the size of their images, label
values in [0, classes) or 255. Each problem is one line naming the file."""
import numpy as np
from tqdm import tqdm

from fcn_tf1.data.images import DataError
from fcn_tf1.ground.names import IGNORE_LABEL
from fcn_tf1.numbers.tta import image_size


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
        problems += ["%s: %s" % (label_path(source, i, k), problem)
                     for k, (head, count) in enumerate(zip(head_labels(source, label),
                                                           head_counts(source)))
                     for problem in sample_problems(image, head, count)]
    return problems


def head_counts(source):
    """The class count of each task ``source`` is labelled for (one, or its ``heads``)."""
    return [len(names) for _, names in source.heads] if source.heads else [source.num_classes]


def head_labels(source, label):
    """[each task's labels [H, W]] of one of ``source``'s labels."""
    if not source.heads:
        return [label]
    if label.ndim != 3 or label.shape[-1] != len(source.heads):
        raise ValueError("labels of shape %s for %d tasks" % (label.shape, len(source.heads)))
    return [label[..., k] for k in range(len(source.heads))]


def label_path(source, i, head=0):
    """The file of sample i's labels (of task ``head``)."""
    return source.paths(i)[1 + head] if hasattr(source, "paths") else source.name(i)


def sample_problems(image, label, num_classes):
    """What is wrong with one (image, label) pair (or ({modality: input}, label)), as one-line
    messages."""
    size = image_size(image)
    if label.shape != size:
        return ["label is %dx%d but its image is %dx%d" % (label.shape + size)]
    bad = np.setdiff1d(np.unique(label), np.r_[np.arange(num_classes), IGNORE_LABEL])
    if bad.size:
        return ["label values %s outside 0..%d (and %d, void)" % (
            ", ".join(str(v) for v in bad[:5]), num_classes - 1, IGNORE_LABEL)]
    return []


def class_statistics(source, head=0):
    """Per class (of task ``head``) over ``source``'s labelled pixels: (pixels, images it occurs
    in, labelled pixels of those images), three int arrays."""
    count = head_counts(source)[head]
    pixels, images, image_pixels = (np.zeros(count, np.int64) for _ in range(3))
    for i in range(len(source)):
        label = head_labels(source, source.load(i)[1])[head]
        counts = np.bincount(label[label < count], minlength=count)
        pixels += counts
        images += counts > 0
        image_pixels += (counts > 0) * counts.sum()
    return pixels, images, image_pixels


def format_counts(source):
    """--check-data's table: per class (of each task) its pixels and images, classes that never
    occur flagged."""
    lines = []
    for head, (task, names) in enumerate(source.heads or [(None, source.class_names)]):
        pixels, images, _ = class_statistics(source, head)
        lines.append("%d images; per class%s: pixels, images" % (
            len(source), " of the %s task" % task if task else ""))
        for name, count, seen in zip(names, pixels, images):
            lines.append("  %-20s %12d %6d%s" % (name, count, seen, "   never occurs"
                                                  if not seen else ""))
    return "\n".join(lines)
