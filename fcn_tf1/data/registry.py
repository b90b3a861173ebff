"""Every data set by its name (``names.DATA_SETS``): how a split of it opens from the flags'
values. ``train``, ``evaluate`` and ``--check-data`` open data only here, so adding a data set is
one entry."""
import collections
import json
import os

from fcn_tf1.data.folder import FolderDataset
from fcn_tf1.data.nyud import CLASSES as NYUD_CLASSES, NYUDDataset
from fcn_tf1.data.pascal_context import PascalContextDataset
from fcn_tf1.data.sbd import SBDDataset
from fcn_tf1.data.siftflow import SIFTFlowDataset
from fcn_tf1.data.synthetic import SyntheticDataset
from fcn_tf1.data.tfrecord import TFRecordDataset
from fcn_tf1.data.voc import VOC_CLASSES, VOCDataset
from fcn_tf1.ground import fileutil
from fcn_tf1.ground.names import IGNORE_LABEL, MARKER, VERSION

# What the flags say about data; a data set reads the fields it needs.
DataOptions = collections.namedtuple(
    "DataOptions", "data_dir seed synthetic_size val_fraction ignore_label splits context_dir")
DataOptions.__new__.__defaults__ = (None, 0, None, 0.1, IGNORE_LABEL, None, None)

# A run of a folder data set keeps the split it trained on, so that evaluate uses the same images.
SPLIT_FILE = "split.json"


def _synthetic(options, split):
    return SyntheticDataset(split, options.synthetic_size if split == "train" else None,
                            options.seed)


def _tfrecord(options, split):
    """A folder of shards (its <split>-*.tfrecord) or a glob of shards; a glob given for the
    training split names the other splits by putting their name in place of it."""
    path = options.data_dir
    if os.path.isdir(path):
        pattern = os.path.join(path, "%s-*.tfrecord" % split)
    elif split == "train" or "train" not in os.path.basename(path):
        pattern = path
    else:
        pattern = os.path.join(os.path.dirname(path), os.path.basename(path).replace(
            "train", split, 1))
    return TFRecordDataset(pattern, split)


def _pascal_context(options, split):
    if not options.context_dir:
        raise ValueError("--data pascal-context needs --context-dir (its annotations: trainval/, "
                         "labels.txt, 59_labels.txt)")
    if not os.path.isdir(options.context_dir):
        raise ValueError("--context-dir %s: no such directory" % options.context_dir)
    return PascalContextDataset(options.data_dir, options.context_dir, split)


def _folder(options, split):
    return FolderDataset(options.data_dir, split, options.val_fraction, options.seed,
                         options.ignore_label, options.splits)


# name -> (opener(options, split), what --data-dir must be: "dir", "path" (a folder or a glob),
# or None when it is not needed)
REGISTRY = collections.OrderedDict([
    ("synthetic", (_synthetic, None)),
    ("voc", (lambda options, split: VOCDataset(options.data_dir, split), "dir")),
    ("sbd", (lambda options, split: SBDDataset(options.data_dir, split), "dir")),
    ("pascal-context", (_pascal_context, "dir")),
    ("nyud", (lambda options, split: NYUDDataset(options.data_dir, split), "dir")),
    ("nyud-hha", (lambda options, split: NYUDDataset(options.data_dir, split, ("hha",)), "dir")),
    ("nyud-color-d", (lambda options, split: NYUDDataset(options.data_dir, split,
                                                         ("image", "depth"), "early"), "dir")),
    ("nyud-color-hha", (lambda options, split: NYUDDataset(options.data_dir, split,
                                                           ("image", "hha"), "late"), "dir")),
    ("siftflow", (lambda options, split: SIFTFlowDataset(options.data_dir, split), "dir")),
    ("folder", (_folder, "dir")),
    ("tfrecord", (_tfrecord, "path")),
])


# The class names of each head of the reference's nets on a data set (names.REFERENCE_DATA), where
# fcn_tf1 reads that data set (PASCAL-Context's come from its files).
REFERENCE_CLASS_NAMES = {"voc": [VOC_CLASSES], "nyud-color": [NYUD_CLASSES],
                         "nyud-hha": [NYUD_CLASSES], "nyud-color-d": [NYUD_CLASSES],
                         "nyud-color-hha": [NYUD_CLASSES],
                         "siftflow": [classes for _, classes in SIFTFlowDataset.heads]}


def reference_class_names(data):
    """[class names of each head] of the reference's nets on ``data``, or None."""
    return REFERENCE_CLASS_NAMES.get(data)


def flag_options(args, run_dir=None):
    """The DataOptions of a command's data flags (--data-dir, --seed, --val-fraction,
    --ignore-label) for the run ``run_dir``, whose stored folder split wins."""
    return DataOptions(args.data_dir, args.seed, None, args.val_fraction, args.ignore_label,
                       stored_split(run_dir), args.context_dir)


def open_split(kind, split, options):
    """The ``split`` of data set ``kind``; one-line errors for a missing --data-dir."""
    opener, needs = REGISTRY[kind]
    if needs and not options.data_dir:
        raise ValueError("--data %s needs --data-dir" % kind)
    if needs == "dir" and not os.path.isdir(options.data_dir):
        raise ValueError("--data-dir %s: no such directory" % options.data_dir)
    return opener(options, split)


def save_split(run_dir, source):
    """Keep a folder data set's train / val stems in the run folder (others have split files)."""
    splits = source.splits
    if splits is not None:
        fileutil.write_json(os.path.join(run_dir, SPLIT_FILE),
                            dict(splits, **{MARKER: VERSION, "data_dir": source.root}))


def stored_split(run_dir):
    """The split a run trained on ({"train": [...], "val": [...]}) or None."""
    path = os.path.join(run_dir or "", SPLIT_FILE)
    if not run_dir or not os.path.isfile(path):
        return None
    with open(path) as f:
        data = json.load(f)
    return {key: data[key] for key in ("train", "val") if key in data}
