"""The paper's four metrics (section 5) from a confusion matrix; label 255 is ignored."""
import numpy as np


def confusion(labels, predictions, num_classes):
    """[num_classes, num_classes] counts, rows = true class, columns = predicted; as the reference's
    score.py, labels outside [0, num_classes) (255 among them) are skipped. A prediction outside
    [0, num_classes) is refused (ValueError): no model of that many classes gives one, and counted
    it would land in another class's cell."""
    labels = np.asarray(labels).ravel()
    predictions = np.asarray(predictions).ravel()
    keep = (labels >= 0) & (labels < num_classes)
    bad = (predictions[keep] < 0) | (predictions[keep] >= num_classes)
    if bad.any():
        raise ValueError("a prediction of class %d, outside 0..%d: the predictions are not of a "
                         "%d-class model" % (predictions[keep][bad][0], num_classes - 1, num_classes))
    return np.bincount(num_classes * labels[keep].astype(np.int64) + predictions[keep],
                       minlength=num_classes ** 2).reshape(num_classes, num_classes)


def median_frequency_weights(pixels, image_pixels):
    """Median frequency balancing (Eigen & Fergus, ICCV 2015): a class's frequency is its pixels
    over the labelled pixels of the images it occurs in; its weight the median frequency over its
    own. A class that never occurs gets 0 (it has no pixel to weigh)."""
    pixels, image_pixels = (np.asarray(a, np.float64) for a in (pixels, image_pixels))
    present = pixels > 0
    if not present.any():
        raise ValueError("no class occurs in the training split: no weights to balance")
    frequency = np.zeros_like(pixels)
    frequency[present] = pixels[present] / image_pixels[present]
    weights = np.zeros_like(pixels)
    weights[present] = np.median(frequency[present]) / frequency[present]
    return weights


def per_class_iou(confusion_matrix):
    """IU of each class; NaN for a class in neither the labels nor the predictions."""
    hist = np.asarray(confusion_matrix, np.float64)
    union = hist.sum(0) + hist.sum(1) - np.diag(hist)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.diag(hist) / union


def scores(confusion_matrix):
    """{"pixel_accuracy", "mean_accuracy", "mean_iou", "fw_iou"} as defined in paper section 5.

    With n_ij the pixels of class i predicted as j and t_i = sum_j n_ij: pixel accuracy
    sum_i n_ii / sum_i t_i; mean accuracy mean_i n_ii / t_i; mean IU mean_i n_ii / (t_i + sum_j n_ji - n_ii);
    frequency weighted IU (sum_k t_k)^-1 sum_i t_i n_ii / (t_i + sum_j n_ji - n_ii). As in the
    reference score.py, means skip classes that do not occur (NaN terms).
    """
    hist = np.asarray(confusion_matrix, np.float64)
    total = hist.sum()
    if total == 0:
        raise ValueError("the confusion matrix is empty: no labelled pixel was scored")
    truth = hist.sum(1)
    iou = per_class_iou(hist)
    with np.errstate(divide="ignore", invalid="ignore"):
        accuracy = np.diag(hist) / truth
    present = truth > 0
    return {
        "pixel_accuracy": float(np.diag(hist).sum() / total),
        "mean_accuracy": float(np.nanmean(accuracy)),
        "mean_iou": float(np.nanmean(iou)),
        "fw_iou": float((truth[present] * iou[present]).sum() / total),
    }
