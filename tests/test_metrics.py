import numpy as np
import pytest

from fcn_tf1.numbers.metrics import confusion, per_class_iou, scores


def test_confusion_ignores_void():
    labels = np.array([[0, 1, 255], [2, 2, 1]])
    predictions = np.array([[0, 2, 1], [2, 2, 1]])
    hist = confusion(labels, predictions, 3)
    assert hist.sum() == 5
    assert hist[1, 2] == 1 and hist[2, 2] == 2 and hist[0, 0] == 1 and hist[1, 1] == 1


def test_scores_match_the_paper_definitions():
    # rows: truth, columns: prediction; class 3 occurs nowhere and must not count.
    hist = np.array([[50, 10, 0, 0], [5, 30, 5, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    result = scores(hist)
    t = hist.sum(1).astype(float)
    n = np.diag(hist).astype(float)
    iu0 = 50 / (60 + 55 - 50.)
    iu1 = 30 / (40 + 40 - 30.)
    iu2 = 0 / (0 + 5 - 0.)  # predicted but never true: IU 0, counted
    assert result["pixel_accuracy"] == pytest.approx(n.sum() / t.sum())
    assert result["mean_accuracy"] == pytest.approx((50 / 60. + 30 / 40.) / 2)
    assert result["mean_iou"] == pytest.approx((iu0 + iu1 + iu2) / 3)
    assert result["fw_iou"] == pytest.approx((60 * iu0 + 40 * iu1) / 100.)
    assert np.isnan(per_class_iou(hist)[3])


def test_empty_confusion_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        scores(np.zeros((3, 3)))


def test_a_prediction_outside_the_classes_is_refused():
    with pytest.raises(ValueError, match="a prediction of class 4, outside 0..2"):
        confusion(np.array([0, 1]), np.array([4, 1]), 3)  # once counted in cell (1, 1)
    with pytest.raises(ValueError, match="class -1"):
        confusion(np.array([0]), np.array([-1]), 3)
    assert confusion(np.array([255]), np.array([7]), 3).sum() == 0  # a void pixel is not scored


def test_the_edges_of_the_class_range():
    with pytest.raises(ValueError, match="a prediction of class 3, outside 0..2"):
        confusion(np.array([0, 1]), np.array([3, 1]), 3)  # one past the last class
    assert confusion(np.array([3]), np.array([0]), 3).sum() == 0  # a label past it is not scored
    assert confusion(np.array([2, 0]), np.array([2, 0]), 3)[2, 2] == 1  # the last class is
