"""What ``advdl export`` takes from a plugin: its inference models, each with real inputs to check it on.

An algorithm exports by defining ``export_parts`` (``Agent.export_parts(observations)``,
``Model.export_parts(images, labels)``), returning ``{part name: ExportPart}``. Each part's Keras
model holds everything a deployment needs between its inputs and outputs (an agent's observation
encoding and normalisation, its argmax or clipped mean; a generator's label one-hot encoding), so
the exported file runs without advdl. ``advdl export`` writes each part in the requested format,
runs the written file in that format's own runtime on ``inputs`` and compares it with the Keras
model: a difference above ``tolerance`` fails the export.
"""

from typing import NamedTuple


class ExportPart(NamedTuple):
    #: a Keras model; its inputs and outputs are what the exported file takes and gives (named after the model's
    #: input layers)
    model: object
    #: a batch of real inputs, one numpy array per model input, in the model's input order
    inputs: tuple
    #: the largest absolute difference allowed between the exported file's outputs and the Keras model's
    tolerance: float = 1e-4


def class_input(keras, classes, name="label"):
    """(an int32 class-index input, its one-hot float32 encoding): a conditional model's label as a
    deployment passes it."""
    label = keras.Input((), dtype="int32", name=name)
    return label, keras.ops.one_hot(label, classes)


def argmax(keras, x):
    """The index of each row's largest value, int32, as a layer every format converts to its own ArgMax
    (``keras.ops.argmax`` adds bitwise ops for negative zeros that TFLite runs only through TensorFlow's Flex ops)."""
    import tensorflow as tf

    class ArgMax(keras.layers.Layer):
        def call(self, values):
            return tf.argmax(values, axis=-1, output_type=tf.int32)

        def compute_output_shape(self, input_shape):
            return input_shape[:-1]

    return ArgMax(dtype="float32")(x)


def float32_copy(keras, model):
    """``model`` rebuilt with float32 layers and its weights (mixed-precision variables are float32 already):
    what an export converts, since ONNX has no bfloat16 constants and deployments expect float32."""
    if all(getattr(layer, "dtype_policy", None) is None or layer.dtype_policy.name == "float32"
           for layer in model._flatten_layers(include_self=False)):
        return model

    def float32_layer(layer):
        if isinstance(layer, keras.Model):  # a nested network (StackedGAN's stages): its own layers too
            return float32_copy(keras, layer)
        return layer.__class__.from_config({**layer.get_config(), "dtype": "float32"})

    copy = keras.models.clone_model(model, clone_function=float32_layer)
    copy.set_weights(model.get_weights())
    return copy
