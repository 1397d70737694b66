"""GANs on the core's Model interface, the book's networks (chapters 4 and 5), one compiled step:
``critic_steps`` discriminator updates, then one generator update.

    bce:            D: -log D(x) - log(1 - D(G(z)))        G: -log D(G(z))
    least_squares:  D: (D(x) - 1)^2 + D(G(z))^2             G: (D(G(z)) - 1)^2
    wasserstein:    D: D(G(z)) - D(x), weights clipped      G: -D(G(z))
                    (or, with gradient_penalty, + lambda (|grad D(x_mix)| - 1)^2 instead of clipping)
    auxiliary (ACGAN) adds the label's cross-entropy to both losses.
"""

import numpy as np

from advdl import CheckpointError, DataError, Model
from advdl.backend import import_tensorflow

GRID = 10  # sample grids are 10 x 10; conditional rows show one label each
SCORE_SAMPLES = 1000


def generator(keras, latent_dim, classes, shape):
    """Dense projection to (H/4, W/4, 128), then BN-ReLU-transposed convolutions (128, 64, 32, C)."""
    from keras import layers

    z = keras.Input((latent_dim,))
    inputs = [z]
    x = z
    if classes:
        label = keras.Input((classes,))
        inputs.append(label)
        x = layers.concatenate([z, label])
    side = shape[0] // 4
    x = layers.Reshape((side, side, 128))(layers.Dense(side * side * 128)(x))
    for filters, strides in ((128, 2), (64, 2), (32, 1), (shape[2], 1)):
        x = layers.Activation("relu")(layers.BatchNormalization()(x))
        x = layers.Conv2DTranspose(filters, 5, strides=strides, padding="same")(x)
    return keras.Model(inputs, layers.Activation("sigmoid")(x), name="generator")


def discriminator(keras, shape, classes, auxiliary):
    """LeakyReLU-convolutions (32, 64, 128, 256; strides 2, 2, 2, 1), no BatchNorm; a logit (and
    class probabilities for ACGAN). An input label is projected to an extra image channel (CGAN)."""
    from keras import layers

    image = keras.Input(shape)
    inputs, x = [image], image
    if classes and not auxiliary:
        label = keras.Input((classes,))
        inputs.append(label)
        plane = layers.Reshape((shape[0], shape[1], 1))(layers.Dense(shape[0] * shape[1])(label))
        x = layers.concatenate([x, plane])
    for filters, strides in ((32, 2), (64, 2), (128, 2), (256, 1)):
        x = layers.Conv2D(filters, 5, strides=strides, padding="same")(layers.LeakyReLU(0.2)(x))
    x = layers.Flatten()(x)
    outputs = [layers.Dense(1)(x)]
    if auxiliary:
        outputs.append(layers.Dense(classes, activation="softmax")(x))
    return keras.Model(inputs, outputs, name="discriminator")


class GAN(Model):
    metric_names = ("d_loss", "g_loss")
    test_metric_names = ("frechet_distance", "label_accuracy")
    model_file = "generator.keras"

    def __init__(self, config, data_info, *, seed, total_steps):
        super().__init__(config, data_info, seed=seed, total_steps=total_steps)
        tf, keras = import_tensorflow(seed=seed)
        c = config
        self.conditional = c.conditional != "none"
        self.classes = data_info.num_classes if self.conditional else 0
        self.generator = generator(keras, c.latent_dim, self.classes, data_info.image_shape)
        self.discriminator = discriminator(keras, data_info.image_shape, self.classes, c.conditional == "auxiliary")
        self.d_optimizer = keras.optimizers.RMSprop(c.d_learning_rate)
        self.g_optimizer = keras.optimizers.RMSprop(c.g_learning_rate)
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)
        self.rng = tf.random.Generator.from_seed(seed)
        self._train = tf.function(self._train_graph)
        self._generate = tf.function(
            lambda *inputs: self.generator(list(inputs) if len(inputs) > 1 else inputs[0], training=False))
        fixed = np.random.default_rng(seed + 1)
        self.fixed_noise = fixed.uniform(-1, 1, (GRID * GRID, c.latent_dim)).astype(np.float32)
        self.fixed_labels = np.repeat(np.arange(GRID), GRID) % max(data_info.num_classes, 1)
        self.score_noise = fixed.uniform(-1, 1, (SCORE_SAMPLES, c.latent_dim)).astype(np.float32)
        self.score_labels = np.arange(SCORE_SAMPLES) % data_info.num_classes
        self.scorer, self.run_dir = None, None  # set by the run before training

    @classmethod
    def check_data(cls, data_info):
        height, width, _ = data_info.image_shape
        if height != width or height % 4:
            raise DataError(f"the GAN networks need square images with a side divisible by 4, got {data_info.image_shape}")

    def count_params(self):
        return int(self.generator.count_params() + self.discriminator.count_params())

    # -- training ----------------------------------------------------------------------------------
    def train_step(self, images, labels):
        d_loss, g_loss = self._train(images, labels)
        return {"d_loss": float(d_loss), "g_loss": float(g_loss)}

    def _inputs(self, z, labels):
        import tensorflow as tf

        return [z, tf.one_hot(labels, self.classes)] if self.conditional else z

    def _d_inputs(self, images, labels):
        import tensorflow as tf

        return [images, tf.one_hot(labels, self.classes)] if self.config.conditional == "input" else images

    def _adversarial(self, logits, real):
        import tensorflow as tf

        loss = self.config.loss
        if loss == "wasserstein":
            return -tf.reduce_mean(logits) if real else tf.reduce_mean(logits)
        if loss == "least_squares":
            return tf.reduce_mean(tf.square(logits - (1.0 if real else 0.0)))
        target = tf.ones_like(logits) if real else tf.zeros_like(logits)
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(target, logits))

    def _discriminate(self, images, labels, real):
        """Adversarial loss (+ ACGAN's label loss) of the discriminator's view of ``images``."""
        import keras
        import tensorflow as tf

        out = self.discriminator(self._d_inputs(images, labels), training=True)
        if self.config.conditional != "auxiliary":
            return self._adversarial(out, real)
        logits, probs = out
        label_loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, probs))
        return self._adversarial(logits, real) + label_loss

    def _train_graph(self, images, labels):
        import tensorflow as tf

        c = self.config
        real = tf.cast(images, tf.float32) / 255.0
        n = tf.shape(real)[0]
        d_vars, g_vars = self.discriminator.trainable_variables, self.generator.trainable_variables
        for _ in range(c.critic_steps):
            z = self.rng.uniform([n, c.latent_dim], -1.0, 1.0)
            fake_labels = self.rng.uniform([n], 0, max(self.classes, 1), dtype=tf.int64)
            fake = self.generator(self._inputs(z, fake_labels), training=True)
            with tf.GradientTape() as tape:
                d_loss = self._discriminate(real, labels, True) + self._discriminate(fake, fake_labels, False)
                if c.gradient_penalty:
                    mix = self.rng.uniform([n, 1, 1, 1])
                    d_loss += c.gradient_penalty * self.gradient_penalty(real, fake, labels, mix)
            self.d_optimizer.apply(tape.gradient(d_loss, d_vars), d_vars)
            if c.clip_value is not None:
                for v in d_vars:
                    v.assign(tf.clip_by_value(v, -c.clip_value, c.clip_value))
        z = self.rng.uniform([n, c.latent_dim], -1.0, 1.0)
        fake_labels = self.rng.uniform([n], 0, max(self.classes, 1), dtype=tf.int64)
        with tf.GradientTape() as tape:
            fake = self.generator(self._inputs(z, fake_labels), training=True)
            g_loss = self._discriminate(fake, fake_labels, True)
        self.g_optimizer.apply(tape.gradient(g_loss, g_vars), g_vars)
        return d_loss, g_loss

    def gradient_penalty(self, real, fake, labels, mix):
        """Mean of (|grad_x D(x)| - 1)^2 at x = mix * real + (1 - mix) * fake (WGAN-GP)."""
        import tensorflow as tf

        mixed = mix * real + (1.0 - mix) * fake
        with tf.GradientTape() as tape:
            tape.watch(mixed)
            out = self.discriminator(self._d_inputs(mixed, labels), training=True)
            logits = out[0] if self.config.conditional == "auxiliary" else out
        grads = tape.gradient(logits, mixed)
        norms = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]) + 1e-12)
        return tf.reduce_mean(tf.square(norms - 1.0))

    # -- sampling and scoring ----------------------------------------------------------------------
    def generate(self, n, labels=None, seed=0):
        noise = np.random.default_rng(seed).uniform(-1, 1, (n, self.config.latent_dim)).astype(np.float32)
        return self.sample(noise, labels)

    def sample(self, noise, labels=None):
        """Images in [0, 1], float32 (N, H, W, C), for the given noise (and labels)."""
        out = []
        for i in range(0, len(noise), 500):
            inputs = [noise[i:i + 500]]
            if self.conditional:
                inputs.append(np.eye(self.classes, dtype=np.float32)[np.asarray(labels)[i:i + 500]])
            out.append(self._generate(*inputs).numpy())
        return np.concatenate(out)

    def evaluate(self, images, labels):
        """Frechet distance (and label accuracy) of 1,000 fixed-noise samples against ``images``."""
        if self.scorer is None:
            return {}
        from advdl.scoring import score

        result = score(self.scorer, self.sample(self.score_noise, self.score_labels), images,
                       labels=self.score_labels if self.conditional else None)
        return {k: result[k] for k in self.test_metric_names if k in result}

    def on_epoch_end(self, epoch):
        if self.run_dir is not None and (epoch + 1) % self.config.sample_every == 0:
            self.write_grid(self.run_dir / "samples" / f"epoch-{epoch + 1:04d}.png")

    def write_grid(self, path):
        from advdl.plots import image_grid

        path.parent.mkdir(parents=True, exist_ok=True)
        image_grid(path, self.sample(self.fixed_noise, self.fixed_labels), GRID)

    def write_figures(self, run_dir, dataset):
        self.write_grid(run_dir / "samples.png")

    # -- state -------------------------------------------------------------------------------------
    def get_state(self):
        return {name: [v.numpy() for v in getattr(self, name).variables]
                for name in ("generator", "discriminator", "g_optimizer", "d_optimizer")} | {
                    "rng": self.rng.state.numpy()}

    def set_state(self, state):
        for name in ("generator", "discriminator", "g_optimizer", "d_optimizer"):
            for variable, value in zip(getattr(self, name).variables, state[name]):
                variable.assign(value)
        self.rng.state.assign(state["rng"])

    def save_model(self, path):
        self.generator.save(path)
        self.discriminator.save(path.with_name("discriminator.keras"))

    def load_model(self, path):
        import keras

        try:
            self.generator.set_weights(keras.models.load_model(path, compile=False).get_weights())
        except Exception as exc:
            raise CheckpointError(f"cannot load model {path}: {type(exc).__name__}: {str(exc)[:200]}") from None
