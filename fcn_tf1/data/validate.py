"""Check a data set before training: every file readable, labels the size of their images, label
values in [0, classes) or 255. Each problem is one line naming the file."""
import numpy as np
from tqdm import tqdm

from fcn_tf1.data.images import DataError
from fcn_tf1.metrics import IGNORE_LABEL


def check_dataset(source, progress=False):
    """Every problem of ``source`` as a list of one-line messages (empty when all is well)."""
    if len(source) == 0:
        return ["%s: the split is empty" % getattr(source, "split_file", source)]
    problems = []
    for i in tqdm(range(len(source)), desc="check data", unit="image", disable=not progress):
        label_path = source.paths(i)[1] if hasattr(source, "paths") else source.name(i)
        try:
            image, label = source.load(i)
        except DataError as error:
            problems.append(str(error))
            continue
        if label.shape != image.shape[:2]:
            problems.append("%s: label is %dx%d but its image is %dx%d" % (
                label_path, label.shape[0], label.shape[1], image.shape[0], image.shape[1]))
        bad = np.setdiff1d(np.unique(label), np.r_[np.arange(source.num_classes), IGNORE_LABEL])
        if bad.size:
            problems.append("%s: label values %s outside 0..%d (and %d, void)" % (
                label_path, ", ".join(str(v) for v in bad[:5]), source.num_classes - 1,
                IGNORE_LABEL))
    return problems
