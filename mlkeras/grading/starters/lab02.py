"""Lab 02 exercise: a feed-forward network in Keras.

Keras is allowed here. The grader builds and trains your model inside the
sandbox, checks its architecture, and scores its predictions on held-out
data whose labels never enter the sandbox. Check your work with
`mlkeras check lab02.py` (it imports Keras in the sandbox: allow a minute).
"""

import keras


def build_mlp(input_dim, hidden_units, num_classes):
    """A Sequential multilayer perceptron.

    `keras.Input((input_dim,))`, then one `Dense(units, activation="relu")`
    per entry of `hidden_units`, then `Dense(num_classes,
    activation="softmax")`. Return it compiled with the Adam optimizer and
    sparse categorical cross-entropy.

    Returns:
        The `keras.Model`.
    """
    raise NotImplementedError


def train_classifier(X, y, num_classes):
    """Builds a network with `build_mlp` (your choice of hidden layers),
    trains it on `X` (n, d) and integer labels `y` (n,), and returns the
    trained model. It must reach at least 85% accuracy on new samples from
    the same distribution (two interleaving half-moons) in under a minute.
    """
    raise NotImplementedError
