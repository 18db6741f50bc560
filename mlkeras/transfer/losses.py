"""`head_loss`: the loss that matches a transfer model's classification head."""

import keras


def _check_num_classes(num_classes):
    if (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, int)
        or num_classes < 2
    ):
        raise ValueError(
            "`num_classes` must be an integer of at least 2 (a classifier "
            f"needs two classes). Received: num_classes={num_classes!r}"
        )


def head_loss(num_classes, one_hot=False):
    """Returns the loss for the head that `build_transfer_model` makes.

    Two classes get one sigmoid unit, so the loss is binary cross-entropy on
    0/1 labels; more classes get a softmax, so the loss is sparse categorical
    cross-entropy on integer labels, or categorical cross-entropy when the
    labels are one-hot.

    Args:
        num_classes: number of classes, at least 2.
        one_hot: whether labels of more than two classes come one-hot
            encoded. Ignored for two classes. Defaults to `False`.

    Returns:
        A `keras.losses.Loss` instance.

    Example:

    >>> head_loss(2).name, head_loss(5).name
    ('binary_crossentropy', 'sparse_categorical_crossentropy')
    """
    _check_num_classes(num_classes)
    if num_classes == 2:
        return keras.losses.BinaryCrossentropy()
    if one_hot:
        return keras.losses.CategoricalCrossentropy()
    return keras.losses.SparseCategoricalCrossentropy()
