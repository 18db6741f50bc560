"""A correct lab 16 submission."""

import keras


def build_transfer_model(input_shape, num_classes):
    base = keras.applications.MobileNetV2(input_shape=input_shape, alpha=0.35,
                                          include_top=False, weights=None)
    base.trainable = False
    inputs = keras.Input(input_shape)
    x = base(inputs, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def unfreeze_top(input_shape, num_classes, count):
    model = build_transfer_model(input_shape, num_classes)
    base = model.layers[1]
    base.trainable = True
    for layer in base.layers[:-count]:
        layer.trainable = False
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    return model
