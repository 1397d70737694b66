"""Variational autoencoders (the book's chapter 8): vae (MLP or CNN), cvae (labels into encoder
and decoder), beta-vae (the KL term weighted by beta). One compiled step:

    (mean, log_var) = encoder(x[, y]);  z = mean + exp(log_var / 2) * eps,  eps ~ N(0, I)
    logits = decoder(z[, y]);           x_hat = sigmoid(logits)
    loss = reconstruction + beta * KL,  both summed over pixels / latent dimensions, averaged over images
    reconstruction = BCE(x, x_hat) or squared error;  KL = -1/2 sum(1 + log_var - mean^2 - exp(log_var))

The held-out ELBO is -(reconstruction + KL) with beta = 1, one fixed draw of eps per image.
"""

import numpy as np

from advdl.api import (
    DataError,
    ExportPart,
    Model,
    class_input,
    float32_outputs,
    import_tensorflow,
    jit_compile,
    load_weights,
    optimizer_for,
    policy_scope,
    replica_gradients,
    resolve_precision,
)

from .autoencoder import EVAL_BATCH, FIGURE_IMAGES

GRID = 10
SCORE_SAMPLES = 1000
MANIFOLD = 15  # the latent manifold: 15 x 15 decodings over z in [-4, 4]^2 (the book: 30 x 30)


def networks(keras, config, shape, classes):
    """(encoder: [image(, one-hot)] -> [mean, log_var], decoder: [z(, one-hot)] -> logits)."""
    from keras import layers

    c, (height, width, channels) = config, shape
    image, label = keras.Input(shape), keras.Input((classes,))
    if c.network == "mlp":
        x = layers.Flatten()(image)
        x = layers.concatenate([x, label]) if c.conditional else x
        x = layers.Dense(c.hidden_units, activation="relu")(x)
    else:
        x = image
        if c.conditional:  # the label as an extra image channel (the book's CVAE)
            x = layers.concatenate([x, layers.Reshape((height, width, 1))(layers.Dense(height * width)(label))])
        for filters in (32, 64):
            x = layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu")(x)
        x = layers.Dense(16, activation="relu")(layers.Flatten()(x))
    encoder = keras.Model([image, label] if c.conditional else image,
                          [layers.Dense(c.latent_dim, name="z_mean")(x), layers.Dense(c.latent_dim, name="z_log_var")(x)],
                          name="encoder")
    z = keras.Input((c.latent_dim,))
    x = layers.concatenate([z, label]) if c.conditional else z
    if c.network == "mlp":
        x = layers.Dense(c.hidden_units, activation="relu")(x)
        logits = layers.Reshape(shape)(layers.Dense(height * width * channels)(x))
    else:
        x = layers.Reshape((height // 4, width // 4, 64))(layers.Dense(height // 4 * width // 4 * 64, activation="relu")(x))
        for filters in (64, 32):
            x = layers.Conv2DTranspose(filters, 3, strides=2, padding="same", activation="relu")(x)
        logits = layers.Conv2DTranspose(channels, 3, padding="same")(x)
    decoder = keras.Model([z, label] if c.conditional else z, logits, name="decoder")
    return encoder, decoder


class VAE(Model):
    distributable = True
    device_batches = True  # train_step takes tensors: the training set may stay on the device
    model_file = "decoder.keras"
    metric_names = ("loss", "reconstruction", "kl")
    test_metric_names = ("test_elbo", "test_reconstruction", "test_kl", "test_mse", "frechet_distance", "label_accuracy")

    def __init__(self, config, data_info, *, seed, total_steps):
        super().__init__(config, data_info, seed=seed, total_steps=total_steps)
        c, shape = config, data_info.image_shape
        if c.network == "cnn" and (shape[0] % 4 or shape[1] % 4):
            raise DataError(f"the CNN VAE needs image sides divisible by 4, got {shape[0]}x{shape[1]} (try network=mlp)")
        self.conditional, self.classes = c.conditional, data_info.num_classes
        tf, keras = import_tensorflow(seed=seed)
        self.precision = resolve_precision(c.precision, cpu_bfloat16=False)  # (Keras dtype policy, why)
        with policy_scope(keras, self.precision[0]):
            encoder, decoder = networks(keras, c, shape, self.classes)
        self.encoder, self.decoder = float32_outputs(keras, encoder), float32_outputs(keras, decoder)
        self.train_variables = self.encoder.trainable_variables + self.decoder.trainable_variables
        self.optimizer = optimizer_for(keras, keras.optimizers.Adam(c.learning_rate), self.precision[0])
        self.optimizer.build(self.train_variables)
        self.rng = tf.random.Generator.from_seed(seed)
        self._train = tf.function(self.train_graph, jit_compile=jit_compile("autoencoder_step"))  # per device
        self._losses = tf.function(self._loss_terms)
        self._decode = tf.function(lambda z, y: tf.sigmoid(self.decoder(self._with_label(z, y), training=False)))
        self._encode = tf.function(lambda x, y: self.encoder(self._with_label(x, y), training=False))
        fixed = np.random.default_rng(seed + 1)
        self.fixed_z = fixed.normal(size=(GRID * GRID, c.latent_dim))
        self.fixed_labels = np.repeat(np.arange(GRID), GRID) % self.classes  # a row per label (conditional)
        self.score_z = fixed.normal(size=(SCORE_SAMPLES, c.latent_dim))
        self.score_labels = np.arange(SCORE_SAMPLES) % self.classes
        self.scorer, self.run_dir = None, None

    def count_params(self):
        return int(self.encoder.count_params() + self.decoder.count_params())

    def _with_label(self, x, labels):
        import tensorflow as tf

        return [x, tf.one_hot(labels, self.classes)] if self.conditional else x

    # -- training ----------------------------------------------------------------------------------
    def _loss_terms(self, x, labels, eps, beta, training=False):
        """(loss, reconstruction, KL), each a mean over the images of a sum over pixels / latents."""
        import tensorflow as tf

        mean, log_var = self.encoder(self._with_label(x, labels), training=training)
        z = mean + tf.exp(0.5 * log_var) * eps
        logits = self.decoder(self._with_label(z, labels), training=training)
        if self.config.reconstruction == "bce":
            per_pixel = tf.nn.sigmoid_cross_entropy_with_logits(x, logits)
        else:
            per_pixel = tf.square(tf.sigmoid(logits) - x)
        reconstruction = tf.reduce_mean(tf.reduce_sum(per_pixel, axis=[1, 2, 3]))
        kl = tf.reduce_mean(-0.5 * tf.reduce_sum(1.0 + log_var - tf.square(mean) - tf.exp(log_var), axis=1))
        return reconstruction + beta * kl, reconstruction, kl

    def train_graph(self, images, labels):
        import tensorflow as tf

        x = tf.cast(images, tf.float32) / 255.0
        eps = self.rng.normal([tf.shape(x)[0], self.config.latent_dim])
        with tf.GradientTape() as tape:
            loss, reconstruction, kl = self._loss_terms(x, labels, eps, self.config.beta, training=True)
            scaled = self.optimizer.scale_loss(loss)  # the identity but under mixed_float16 (unscaled in apply)
        self.optimizer.apply(replica_gradients(tape.gradient(scaled, self.train_variables)), self.train_variables)
        return {"loss": loss, "reconstruction": reconstruction, "kl": kl}

    def train_step(self, images, labels):
        return {name: float(value) for name, value in self._train(images, labels).items()}

    # -- evaluation --------------------------------------------------------------------------------
    def evaluate(self, images, labels):
        """Held-out ELBO and its terms (one fixed eps per image), the squared error of the mean
        reconstruction per pixel; with a scorer, the Frechet distance (and label accuracy) of
        1,000 fixed samples."""
        eps = np.random.default_rng(0).normal(size=(len(images), self.config.latent_dim)).astype(np.float32)
        sums, squared = np.zeros(2), 0.0
        for i in range(0, len(images), EVAL_BATCH):
            x = images[i:i + EVAL_BATCH].astype(np.float32) / 255.0
            _, reconstruction, kl = self._losses(x, labels[i:i + EVAL_BATCH], eps[i:i + EVAL_BATCH], 1.0)
            sums += len(x) * np.array([float(reconstruction), float(kl)])
            mean = self._encode(x, labels[i:i + EVAL_BATCH])[0]
            squared += float(np.sum(np.square(self._decode(mean, labels[i:i + EVAL_BATCH]).numpy() - x)))
        reconstruction, kl = sums / len(images)
        result = {"test_elbo": -(reconstruction + kl), "test_reconstruction": reconstruction, "test_kl": kl,
                  "test_mse": squared / images.size}
        if self.scorer is not None:
            from advdl.api import score

            scores = score(self.scorer, self.decode(self.score_z, self.score_labels), images,
                           labels=self.score_labels if self.conditional else None)
            result |= {k: scores[k] for k in ("frechet_distance", "label_accuracy") if k in scores}
        return result

    # -- sampling and figures ----------------------------------------------------------------------
    def decode(self, z, labels=None):
        labels = np.zeros(len(z), np.int64) if labels is None else np.asarray(labels, np.int64)
        z = np.asarray(z, np.float32)
        return np.concatenate([self._decode(z[i:i + EVAL_BATCH], labels[i:i + EVAL_BATCH]).numpy()
                               for i in range(0, len(z), EVAL_BATCH)])

    def generate(self, n, labels=None, seed=0):
        """``n`` images decoded from z ~ N(0, I) (and the labels asked for)."""
        z = np.random.default_rng(seed).normal(size=(n, self.config.latent_dim))
        return self.decode(z, labels)

    def on_epoch_end(self, epoch):
        if self.run_dir is not None and (epoch + 1) % 5 == 0:
            self.write_grid(self.run_dir / "samples" / f"epoch-{epoch + 1:04d}.png")

    def write_grid(self, path):
        from advdl.api import image_grid

        path.parent.mkdir(parents=True, exist_ok=True)
        image_grid(path, self.decode(self.fixed_z, self.fixed_labels), GRID)

    def write_figures(self, run_dir, dataset):
        from advdl.api import image_grid, latent_scatter

        self.write_grid(run_dir / "samples.png")
        images, labels = dataset.x_test[:FIGURE_IMAGES], dataset.y_test[:FIGURE_IMAGES]
        mean = self._encode(images.astype(np.float32) / 255.0, labels)[0]
        image_grid(run_dir / "reconstructions.png",
                   np.concatenate([images.astype(np.float32) / 255.0, self.decode(mean, labels)]), FIGURE_IMAGES)
        if self.config.latent_dim != 2:
            return
        means = np.concatenate([self._encode(dataset.x_test[i:i + EVAL_BATCH].astype(np.float32) / 255.0,
                                             dataset.y_test[i:i + EVAL_BATCH])[0].numpy()
                                for i in range(0, len(dataset.x_test), EVAL_BATCH)])
        latent_scatter(run_dir / "latent.png", means, dataset.y_test, f"{self.data_info.name}: z means of held-out images")
        axis = np.linspace(-4.0, 4.0, MANIFOLD)
        grid = np.stack(np.meshgrid(axis, axis[::-1]), axis=-1).reshape(-1, 2)  # rows: z[1] from 4 down to -4
        for label in range(self.classes) if self.conditional else [None]:
            name = "manifold.png" if label is None else f"manifold-{label}.png"
            labels = None if label is None else np.full(len(grid), label)
            image_grid(run_dir / name, self.decode(grid, labels), MANIFOLD)

    # -- state -------------------------------------------------------------------------------------
    def state_parts(self):
        return {"encoder": self.encoder, "decoder": self.decoder, "optimizer": self.optimizer, "rng": self.rng}

    def export_parts(self, images, labels):
        """The encoder (uint8 images, and an int label for a CVAE -> the mean and log variance of z) and the
        decoder (z, and the label -> images in [0, 1]): z ~ N(0, I) decodes to new images."""
        import keras

        image = keras.Input(self.data_info.image_shape, dtype="uint8", name="image")
        z = keras.Input((self.config.latent_dim,), name="z")
        x = keras.ops.cast(image, "float32") / 255.0
        if self.conditional:
            label, one_hot = class_input(keras, self.classes)
            encoder = keras.Model([image, label], self.encoder([x, one_hot]), name="encoder")
            decoder = keras.Model([z, label], keras.ops.sigmoid(self.decoder([z, one_hot])), name="decoder")
            codes, classes = self.score_z[:64].astype(np.float32), self.score_labels[:64].astype(np.int32)
            return {"encoder": ExportPart(encoder, (images[:64], labels[:64].astype(np.int32))),
                    "decoder": ExportPart(decoder, (codes, classes))}
        encoder = keras.Model(image, self.encoder(x), name="encoder")
        decoder = keras.Model(z, keras.ops.sigmoid(self.decoder(z)), name="decoder")
        return {"encoder": ExportPart(encoder, (images[:64],)),
                "decoder": ExportPart(decoder, (self.score_z[:64].astype(np.float32),))}

    def save_model(self, path):
        """The decoder (the generator: z(, one-hot label) -> logits), and the encoder beside it."""
        self.decoder.save(path)
        self.encoder.save(path.with_name("encoder.keras"))

    def load_model(self, path):
        load_weights(self.decoder, path)
        load_weights(self.encoder, path.with_name("encoder.keras"))
