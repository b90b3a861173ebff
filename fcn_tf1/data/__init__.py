"""Segmentation data sets: the built-in synthetic one, PASCAL VOC 2012 and SBD.

Every data set offers the same small interface, ``source.DataSource``: ``num_classes``,
``class_names``, ``len()``, ``load(i) -> (image uint8 [H, W, 3] RGB, label uint8 [H, W])``,
``name(i)`` (the file it reads), and the parts only some have (colours, split file, stored splits).
"""
