"""The book's classifier networks (chapters 1 and 2), built with Keras; each ends in a softmax.

    build(config, image_shape, num_classes) -> keras.Model
"""

import keras
from keras import layers


def mlp(c, shape, classes):
    x = inputs = keras.Input(shape)
    x = layers.Flatten()(x)
    for units in c.hidden_sizes:
        x = layers.Dense(units, activation="relu")(x)
        x = layers.Dropout(c.dropout)(x)
    return keras.Model(inputs, layers.Dense(classes, activation="softmax", dtype="float32")(x), name="mlp")


def cnn(c, shape, classes):
    x = inputs = keras.Input(shape)
    for i in range(c.conv_layers):
        x = layers.Conv2D(c.filters, c.kernel_size, activation="relu")(x)
        if i < c.conv_layers - 1:
            x = layers.MaxPooling2D(2)(x)
    x = layers.Dropout(c.dropout)(layers.Flatten()(x))
    return keras.Model(inputs, layers.Dense(classes, activation="softmax", dtype="float32")(x), name="cnn")


def rnn(c, shape, classes):
    inputs = keras.Input(shape)
    rows = layers.Reshape((shape[0], shape[1] * shape[2]))(inputs)  # one time step per image row
    cell = {"simple": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}[c.cell]
    x = cell(c.units, dropout=c.dropout)(rows)
    return keras.Model(inputs, layers.Dense(classes, activation="softmax", dtype="float32")(x), name="rnn")


def ynet(c, shape, classes):
    """Two branches see the same image; the right one's dilated kernels cover a wider field."""
    inputs = keras.Input(shape)
    branches = []
    for dilation in (1, c.dilation_rate):
        x, filters = inputs, c.filters
        for _ in range(c.conv_layers):
            x = layers.Conv2D(filters, 3, padding="same", activation="relu", dilation_rate=dilation)(x)
            x = layers.Dropout(c.dropout)(x)
            x = layers.MaxPooling2D(2)(x)
            filters *= 2
        branches.append(x)
    x = layers.Dropout(c.dropout)(layers.Flatten()(layers.concatenate(branches)))
    return keras.Model(inputs, layers.Dense(classes, activation="softmax", dtype="float32")(x), name="ynet")


# -- ResNet (He et al.; the book's chapter 2) ----------------------------------------------------------
def conv_bn(x, filters, kernel=3, strides=1, activation="relu", batch_norm=True, conv_first=True):
    conv = layers.Conv2D(filters, kernel, strides=strides, padding="same", kernel_initializer="he_normal",
                         kernel_regularizer=keras.regularizers.l2(1e-4))
    if conv_first:
        x = conv(x)
    if batch_norm:
        x = layers.BatchNormalization()(x)
    if activation:
        x = layers.Activation(activation)(x)
    return x if conv_first else conv(x)


def resnet_v1(depth, shape, classes):
    blocks, filters = (depth - 2) // 6, 16
    x = inputs = keras.Input(shape)
    x = conv_bn(x, filters)
    for stage in range(3):
        for block in range(blocks):
            strides = 2 if stage > 0 and block == 0 else 1
            y = conv_bn(x, filters, strides=strides)
            y = conv_bn(y, filters, activation=None)
            if strides == 2:  # match the shortcut's shape
                x = conv_bn(x, filters, kernel=1, strides=2, activation=None, batch_norm=False)
            x = layers.Activation("relu")(layers.add([x, y]))
        filters *= 2
    x = layers.Flatten()(layers.AveragePooling2D(8)(x))
    outputs = layers.Dense(classes, activation="softmax", kernel_initializer="he_normal", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"resnet{depth}_v1")


def resnet_v2(depth, shape, classes):
    """Pre-activation bottleneck blocks (BN-ReLU-conv 1x1, 3x3, 1x1)."""
    blocks, filters_in = (depth - 2) // 9, 16
    x = inputs = keras.Input(shape)
    x = conv_bn(x, filters_in, conv_first=True)
    for stage in range(3):
        for block in range(blocks):
            activation, batch_norm, strides = "relu", True, 1
            if stage == 0:
                filters_out = filters_in * 4
                if block == 0:  # the first layer's input is already activated
                    activation, batch_norm = None, False
            else:
                filters_out = filters_in * 2
                if block == 0:
                    strides = 2
            y = conv_bn(x, filters_in, kernel=1, strides=strides, activation=activation, batch_norm=batch_norm,
                        conv_first=False)
            y = conv_bn(y, filters_in, conv_first=False)
            y = conv_bn(y, filters_out, kernel=1, conv_first=False)
            if block == 0:
                x = conv_bn(x, filters_out, kernel=1, strides=strides, activation=None, batch_norm=False)
            x = layers.add([x, y])
        filters_in = filters_out
    x = layers.Activation("relu")(layers.BatchNormalization()(x))
    x = layers.Flatten()(layers.AveragePooling2D(8)(x))
    outputs = layers.Dense(classes, activation="softmax", kernel_initializer="he_normal", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"resnet{depth}_v2")


def resnet(c, shape, classes):
    return (resnet_v1 if c.version == 1 else resnet_v2)(c.depth, shape, classes)


# -- DenseNet-BC (Huang et al.; the book's chapter 2) --------------------------------------------------
def densenet(c, shape, classes):
    layers_per_block = (c.depth - 4) // 6  # bottleneck layers are 2 convolutions each
    filters = 2 * c.growth_rate
    x = inputs = keras.Input(shape)
    x = layers.Activation("relu")(layers.BatchNormalization()(x))
    x = layers.Conv2D(filters, 3, padding="same", kernel_initializer="he_normal")(x)
    for block in range(3):
        for _ in range(layers_per_block):
            y = layers.Activation("relu")(layers.BatchNormalization()(x))
            y = layers.Conv2D(4 * c.growth_rate, 1, padding="same", kernel_initializer="he_normal")(y)
            y = layers.Dropout(c.dropout)(y)
            y = layers.Activation("relu")(layers.BatchNormalization()(y))
            y = layers.Conv2D(c.growth_rate, 3, padding="same", kernel_initializer="he_normal")(y)
            y = layers.Dropout(c.dropout)(y)
            x = layers.concatenate([x, y])
            filters += c.growth_rate
        if block < 2:  # transition: compress and halve the resolution
            filters = int(filters * c.compression)
            y = layers.BatchNormalization()(x)
            y = layers.Conv2D(filters, 1, padding="same", kernel_initializer="he_normal")(y)
            x = layers.AveragePooling2D(2)(y)
    x = layers.Flatten()(layers.AveragePooling2D(x.shape[1])(x))
    outputs = layers.Dense(classes, activation="softmax", kernel_initializer="he_normal", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"densenet_bc_{c.depth}_{c.growth_rate}")


BUILDERS = {"MLPConfig": mlp, "CNNConfig": cnn, "RNNConfig": rnn, "YNetConfig": ynet,
            "ResNetConfig": resnet, "DenseNetConfig": densenet}


def build(config, shape, classes):
    return BUILDERS[type(config).__name__](config, tuple(shape), classes)
