"""What every data set offers, explicitly: the one interface the training, evaluation, export and
the data tool read (nothing probes a data set for optional parts)."""


class DataSource(object):
    """A split of a data set: ``len()``, ``load(i) -> (image uint8 [H, W, 3] RGB, label uint8
    [H, W])`` and ``name(i)`` (the file it reads); its classes; and the parts only some data sets
    have, here with the value that means "none"."""

    num_classes = None
    class_names = ()
    class_colours = None  # [[R, G, B]] per class, or None: VOC's colours
    modality = "image"    # what load's image is (names.MODALITIES): an RGB photo, NYUDv2's HHA
    heads = None          # [(task, class names)] of a set labelled for several: label [H, W, tasks]
    inputs = None         # the modalities of a set of several inputs: load's image {modality: array}
    fusion = None         # and how a model fuses them (names.FUSIONS)
    split_file = None     # the file that lists the split, when there is one (messages name it)
    splits = None         # a folder set's {split: [stems]} (a run keeps it: registry.save_split)

    def __len__(self):
        raise NotImplementedError

    def name(self, i):
        raise NotImplementedError

    def load(self, i):
        raise NotImplementedError

    def unpaired(self):
        """One-line problems of files without their pair (a folder set's lone images or masks)."""
        return []
