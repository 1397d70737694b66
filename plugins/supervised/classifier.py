"""An image classifier on the core's Model interface: one of the book's networks (networks.py),
a compiled train step in the Keras ``train_step`` style, optional shift/flip augmentation inside
the step, the book's step learning-rate schedule.

    loss = sparse categorical cross-entropy of the softmax output (+ the layers' L2 penalties)
"""

import numpy as np

from advdl.api import (
    CheckpointError,
    ExportPart,
    Model,
    confusion_matrix,
    import_tensorflow,
    optimizer_for,
    replica_gradients,
    resolve_precision,
)

from . import check_image_shape

EVAL_BATCH = 1000
BOOK_SCHEDULE = ((180, 0.5e-3), (160, 1e-3), (120, 1e-2), (80, 1e-1))  # (after epoch, factor)


def book_learning_rate(initial, epoch):
    """The book's ResNet / DenseNet schedule for the epoch about to start."""
    return initial * next((factor for after, factor in BOOK_SCHEDULE if epoch > after), 1.0)


class Classifier(Model):
    distributable = True
    device_batches = True  # train_step takes tensors: the training set may stay on the device
    metric_names = ("loss", "accuracy")
    test_metric_names = ("test_loss", "test_accuracy")

    def __init__(self, config, data_info, *, seed, total_steps):
        super().__init__(config, data_info, seed=seed, total_steps=total_steps)
        check_image_shape(config, data_info.image_shape)
        tf, keras = import_tensorflow(seed=seed)
        from .networks import build

        self.precision = resolve_precision(config.precision, cpu_bfloat16=False)  # (Keras dtype policy, why)
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(self.precision[0])  # the layers built now compute in it (the softmax: float32)
        try:
            self.network = build(config, data_info.image_shape, data_info.num_classes)
        finally:
            keras.config.set_dtype_policy(previous)
        self.optimizer = optimizer_for(keras, {
            "adam": lambda: keras.optimizers.Adam(config.learning_rate),
            "sgd": lambda: keras.optimizers.SGD(config.learning_rate, momentum=0.9),
            "rmsprop": lambda: keras.optimizers.RMSprop(config.learning_rate),
        }[config.optimizer](), self.precision[0])
        self.optimizer.build(self.network.trainable_variables)
        self.augment_rng = tf.random.Generator.from_seed(seed)
        # no XLA: it has no deterministic max-pooling gradient, and runs are reproducible
        self._train = tf.function(self.train_graph, reduce_retracing=True)
        self._predict = tf.function(lambda x: self.network(tf.cast(x, tf.float32) / 255.0, training=False),
                                    jit_compile=True, reduce_retracing=True)

    def count_params(self):
        return int(self.network.count_params())

    # -- training ----------------------------------------------------------------------------------
    def train_step(self, images, labels):
        return {name: float(value) for name, value in self._train(images, labels).items()}

    def _augment(self, x):
        import tensorflow as tf

        c, (h, w) = self.config, x.shape[1:3]
        if c.augment_shift:
            pad = max(1, int(round(c.augment_shift * h)))
            padded = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
            n = tf.shape(x)[0]
            dy = self.augment_rng.uniform([n, 1], 0, 2 * pad + 1, dtype=tf.int32)
            dx = self.augment_rng.uniform([n, 1], 0, 2 * pad + 1, dtype=tf.int32)
            x = tf.gather(padded, dy + tf.range(h)[None], axis=1, batch_dims=1)  # each image its own shift
            x = tf.gather(x, dx + tf.range(w)[None], axis=2, batch_dims=1)
        if c.augment_flip:
            flip = self.augment_rng.uniform([tf.shape(x)[0], 1, 1, 1]) < 0.5
            x = tf.where(flip, tf.reverse(x, axis=[2]), x)
        return x

    def train_graph(self, images, labels):
        import keras
        import tensorflow as tf

        x = self._augment(tf.cast(images, tf.float32) / 255.0)
        with tf.GradientTape() as tape:
            probs = self.network(x, training=True)
            # the loss function, not a keras.losses.Loss object: those scale by 1 / replicas under tf.distribute
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, probs))
            total = loss + tf.add_n(self.network.losses) if self.network.losses else loss
            # the identity but under mixed_float16, whose LossScaleOptimizer unscales the gradients in apply
            total = self.optimizer.scale_loss(total)
        grads = replica_gradients(tape.gradient(total, self.network.trainable_variables))
        self.optimizer.apply(grads, self.network.trainable_variables)
        accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(probs, 1), labels), tf.float32))
        return {"loss": loss, "accuracy": accuracy}

    def on_epoch_end(self, epoch):
        if self.config.lr_schedule == "book":
            self.optimizer.learning_rate.assign(book_learning_rate(self.config.learning_rate, epoch + 1))

    # -- evaluation --------------------------------------------------------------------------------
    def predict_proba(self, images):
        """Softmax outputs in chunks of EVAL_BATCH (the last one padded: one compiled shape)."""
        out = []
        for i in range(0, len(images), EVAL_BATCH):
            chunk = images[i:i + EVAL_BATCH]
            padded = np.concatenate([chunk, np.zeros((EVAL_BATCH - len(chunk), *chunk.shape[1:]), chunk.dtype)])
            out.append(self._predict(padded).numpy()[:len(chunk)])
        return np.concatenate(out)

    def evaluate(self, images, labels):
        probs = self.predict_proba(images)
        picked = np.clip(probs[np.arange(len(labels)), labels], 1e-7, 1.0)
        return {"test_loss": float(-np.log(picked).mean()),
                "test_accuracy": float((probs.argmax(1) == labels).mean())}

    def write_figures(self, run_dir, dataset):
        predictions = self.predict_proba(dataset.x_test).argmax(1)
        accuracy = (predictions == dataset.y_test).mean()
        confusion_matrix(run_dir / "confusion_matrix.png", dataset.y_test, predictions, dataset.num_classes,
                         f"{self.network.name} on {dataset.name}: test accuracy {accuracy:.2%}")

    # -- state -------------------------------------------------------------------------------------
    def get_state(self):
        # network.variables includes the dropout layers' seed-generator states: resume is exact
        return {"network": [v.numpy() for v in self.network.variables],
                "optimizer": [v.numpy() for v in self.optimizer.variables],
                "augment_rng": self.augment_rng.state.numpy()}

    def set_state(self, state):
        for variable, value in zip(self.network.variables, state["network"]):
            variable.assign(value)
        for variable, value in zip(self.optimizer.variables, state["optimizer"]):
            variable.assign(value)
        self.augment_rng.state.assign(state["augment_rng"])

    def export_parts(self, images, labels):
        """Class probabilities of uint8 images."""
        import keras

        network = self.network
        if any("unroll" in layer.get_config() for layer in network.layers):
            # the rnn unrolled: a loop over the rows is TensorList ops that TFLite runs only through TensorFlow's
            network = keras.models.clone_model(network, clone_function=lambda layer: layer.__class__.from_config(
                {**layer.get_config(), "unroll": True} if "unroll" in layer.get_config() else layer.get_config()))
            network.set_weights(self.network.get_weights())
        image = keras.Input(self.data_info.image_shape, dtype="uint8", name="image")
        probabilities = network(keras.ops.cast(image, "float32") / 255.0)
        return {"classifier": ExportPart(keras.Model(image, probabilities, name="classifier"), (images[:64],))}

    def save_model(self, path):
        self.network.save(path)

    def load_model(self, path):
        import keras

        try:
            self.network.set_weights(keras.models.load_model(path, compile=False, safe_mode=True).get_weights())
        except Exception as exc:
            raise CheckpointError(f"cannot load model {path}: {type(exc).__name__}: {str(exc)[:200]}") from None
