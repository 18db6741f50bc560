import keras
import numpy as np
import pytest

from mlkeras.transfer.losses import head_loss


def test_two_classes_use_binary_crossentropy_on_one_sigmoid_unit():
    y_true = np.array([[0.0], [1.0], [1.0]], "float32")
    y_pred = np.array([[0.2], [0.7], [0.9]], "float32")
    expected = -np.mean(
        y_true * np.log(y_pred) + (1 - y_true) * np.log(1 - y_pred)
    )
    loss = head_loss(2)
    assert isinstance(loss, keras.losses.BinaryCrossentropy)
    np.testing.assert_allclose(float(loss(y_true, y_pred)), expected, rtol=1e-5)


def test_more_classes_use_sparse_categorical_crossentropy_on_integer_labels():
    y_true = np.array([2, 0], "int32")
    y_pred = np.array([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1]], "float32")
    expected = -np.mean(np.log([0.7, 0.6]))
    loss = head_loss(3)
    assert isinstance(loss, keras.losses.SparseCategoricalCrossentropy)
    np.testing.assert_allclose(float(loss(y_true, y_pred)), expected, rtol=1e-5)


def test_one_hot_labels_use_categorical_crossentropy():
    y_true = np.eye(3, dtype="float32")[[2, 0]]
    y_pred = np.array([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1]], "float32")
    loss = head_loss(3, one_hot=True)
    assert isinstance(loss, keras.losses.CategoricalCrossentropy)
    np.testing.assert_allclose(
        float(loss(y_true, y_pred)), -np.mean(np.log([0.7, 0.6])), rtol=1e-5
    )


def test_one_hot_is_ignored_for_two_classes():
    assert isinstance(
        head_loss(2, one_hot=True), keras.losses.BinaryCrossentropy
    )


@pytest.mark.parametrize("num_classes", [1, 0, -3, 2.5, "3", True, None])
def test_rejects_fewer_than_two_classes_or_non_integers(num_classes):
    with pytest.raises(ValueError, match="num_classes="):
        head_loss(num_classes)
