"""A correct lab 02 submission."""

import keras


def build_mlp(input_dim, hidden_units, num_classes):
    model = keras.Sequential([keras.Input((input_dim,))])
    for units in hidden_units:
        model.add(keras.layers.Dense(units, activation="relu"))
    model.add(keras.layers.Dense(num_classes, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def train_classifier(X, y, num_classes):
    keras.utils.set_random_seed(0)
    model = build_mlp(X.shape[1], [32, 32], num_classes)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(X, y, epochs=40, batch_size=64, verbose=0)
    return model
