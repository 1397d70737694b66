"""GANs on the core's Model interface, the book's networks (chapters 4 and 5), one compiled step:
``critic_steps`` discriminator updates, then one generator update.

    bce:            D: -log D(x) - log(1 - D(G(z)))        G: -log D(G(z))
    least_squares:  D: (D(x) - 1)^2 + D(G(z))^2             G: (D(G(z)) - 1)^2
    wasserstein:    D: D(G(z)) - D(x), weights clipped      G: -D(G(z))
                    (or, with gradient_penalty, + lambda (|grad D(x_mix)| - 1)^2 instead of clipping)
    auxiliary (ACGAN) adds the label's cross-entropy to both losses.
"""

import numpy as np

from advdl.api import (
    DataError,
    ExportPart,
    Model,
    class_input,
    float32_copy,
    import_tensorflow,
    jit_compile,
    load_weights,
    optimizer_for,
    replica_gradients,
    resolve_precision,
    rmsprop,
)

GRID = 10  # sample grids are 10 x 10; conditional rows show one label each
SCORE_SAMPLES = 1000


def fused_batch_normalization():
    """Keras' BatchNormalization computed in training by TensorFlow's fused kernel: the same
    numbers, a quarter less time for the generator's forward and backward pass on a CPU (Keras 3
    composes it from separate moment, cast and scale ops)."""
    import keras
    import tensorflow as tf

    @keras.saving.register_keras_serializable(package="advdl")
    class FusedBatchNormalization(keras.layers.BatchNormalization):
        def call(self, inputs, training=None, mask=None):
            if not training or len(inputs.shape) != 4 or self.axis not in (-1, 3):
                return super().call(inputs, training=training, mask=mask)
            outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                inputs, tf.cast(self.gamma, tf.float32), tf.cast(self.beta, tf.float32), epsilon=self.epsilon,
                is_training=True)[:3]
            count = tf.cast(tf.reduce_prod(tf.shape(inputs)[:3]), tf.float32)
            variance *= (count - 1.0) / count  # the kernel returns the unbiased variance; Keras keeps the biased one
            self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
            self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
            return outputs

    return FusedBatchNormalization


def generator(keras, latent_dim, classes, shape, dtype="float32", filters=32):
    """Dense projection to (H/4, W/4, 4f), then BN-ReLU-transposed convolutions (4f, 2f, f, C), with
    f = ``filters`` (the book: 32). ``dtype`` is the layers' Keras dtype policy; the output is float32
    either way."""
    from keras import layers

    batch_normalization = fused_batch_normalization()
    z = keras.Input((latent_dim,))
    inputs = [z]
    x = z
    if classes:
        label = keras.Input((classes,))
        inputs.append(label)
        x = layers.concatenate([z, label], dtype=dtype)
    side = shape[0] // 4
    x = layers.Reshape((side, side, 4 * filters), dtype=dtype)(layers.Dense(side * side * 4 * filters, dtype=dtype)(x))
    for width, strides in ((4 * filters, 2), (2 * filters, 2), (filters, 1), (shape[2], 1)):
        x = layers.Activation("relu", dtype=dtype)(batch_normalization(dtype=dtype)(x))
        x = layers.Conv2DTranspose(width, 5, strides=strides, padding="same", dtype=dtype)(x)
    return keras.Model(inputs, layers.Activation("sigmoid", dtype="float32")(x), name="generator")


def discriminator(keras, shape, classes, auxiliary, dtype="float32", filters=32):
    """LeakyReLU-convolutions (f, 2f, 4f, 8f with f = ``filters``, the book's 32; strides 2, 2, 2,
    1), no BatchNorm; a logit (and
    class probabilities for ACGAN). An input label is projected to an extra image channel (CGAN).
    ``dtype`` is the layers' Keras dtype policy; the heads are float32 either way."""
    from keras import layers

    image = keras.Input(shape)
    inputs, x = [image], image
    if classes and not auxiliary:
        label = keras.Input((classes,))
        inputs.append(label)
        plane = layers.Dense(shape[0] * shape[1], dtype=dtype)(label)
        x = layers.concatenate([x, layers.Reshape((shape[0], shape[1], 1), dtype=dtype)(plane)], dtype=dtype)
    for width, strides in ((filters, 2), (2 * filters, 2), (4 * filters, 2), (8 * filters, 1)):
        x = layers.Conv2D(width, 5, strides=strides, padding="same", dtype=dtype)(layers.LeakyReLU(0.2, dtype=dtype)(x))
    x = layers.Flatten(dtype=dtype)(x)
    outputs = [layers.Dense(1, dtype="float32")(x)]
    if auxiliary:
        outputs.append(layers.Dense(classes, activation="softmax", dtype="float32")(x))
    return keras.Model(inputs, outputs, name="discriminator")


class GAN(Model):
    distributable = True
    device_batches = True  # train_step takes tensors: the training set may stay on the device
    metric_names = ("d_loss", "g_loss")
    state_names = ("generator", "discriminator", "g_optimizer", "d_optimizer", "rng")  # what a checkpoint holds
    test_metric_names = ("frechet_distance", "label_accuracy")
    model_file = "generator.keras"

    def __init__(self, config, data_info, *, seed, total_steps):
        super().__init__(config, data_info, seed=seed, total_steps=total_steps)
        tf, keras = import_tensorflow(seed=seed)
        c = config
        self.conditional = c.conditional != "none"
        self.classes = data_info.num_classes if self.conditional else 0
        self.precision = resolve_precision(c.precision)  # (Keras dtype policy, why)
        self.generator, self.discriminator = self.build_networks(keras, self.precision[0])
        make = rmsprop if c.rmsprop_epsilon == "outside" else (lambda keras, lr: keras.optimizers.RMSprop(lr))
        self.d_optimizer = optimizer_for(keras, make(keras, c.d_learning_rate), self.precision[0])
        self.g_optimizer = optimizer_for(keras, make(keras, c.g_learning_rate), self.precision[0])
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)
        self.average = None  # with generator_average: the moving average of the generator's weights
        if c.generator_average:
            self.average = keras.models.clone_model(self.generator)
            self.average.set_weights(self.generator.get_weights())
        self.rng = tf.random.Generator.from_seed(seed)
        self._train = tf.function(self.train_graph, jit_compile=jit_compile("gan_step"))  # off on a CPU: 11x slower
        self._generate = tf.function(
            lambda *inputs: self.sampler(list(inputs) if len(inputs) > 1 else inputs[0], training=False))
        fixed = np.random.default_rng(seed + 1)
        self.fixed_noise = fixed.uniform(-1, 1, (GRID * GRID, c.latent_dim)).astype(np.float32)
        self.fixed_labels = np.repeat(np.arange(GRID), GRID) % max(data_info.num_classes, 1)
        self.score_noise = fixed.uniform(-1, 1, (SCORE_SAMPLES, c.latent_dim)).astype(np.float32)
        self.score_labels = np.arange(SCORE_SAMPLES) % data_info.num_classes
        self.scorer, self.run_dir = None, None  # set by the run before training

    def build_networks(self, keras, dtype):
        c, shape = self.config, self.data_info.image_shape
        return (generator(keras, c.latent_dim, self.classes, shape, dtype, c.filters),
                discriminator(keras, shape, self.classes, c.conditional == "auxiliary", dtype, c.filters))

    @classmethod
    def check_data(cls, data_info):
        height, width, _ = data_info.image_shape
        if height != width or height % 4:
            raise DataError(f"the GAN networks need square images with a side divisible by 4, got {data_info.image_shape}")

    @property
    def batch_size(self):  # a fresh real batch for every critic step
        return self.config.batch_size * getattr(self.config, "critic_steps", 1)

    @property
    def sampler(self):
        """The generator that samples, scores, is saved and exported: the weight average when there is one."""
        average = getattr(self, "average", None)
        return self.generator if average is None else average

    def count_params(self):  # the networks among the checkpointed parts (the weight average is a copy)
        parts = (getattr(self, name) for name in self.state_names)
        return int(sum(part.count_params() for part in parts if hasattr(part, "count_params")))

    # -- training ----------------------------------------------------------------------------------
    def train_step(self, images, labels):
        return {name: float(value) for name, value in self._train(images, labels).items()}

    def _inputs(self, z, labels):
        import tensorflow as tf

        return [z, tf.one_hot(labels, self.classes)] if self.conditional else z

    def _d_inputs(self, images, labels):
        import tensorflow as tf

        return [images, tf.one_hot(labels, self.classes)] if self.config.conditional == "input" else images

    def _adversarial(self, logits, real, smoothing=0.0):
        """The loss of ``logits`` judged real (target 1 - ``smoothing``) or fake (target 0)."""
        import tensorflow as tf

        loss = self.config.loss
        if loss == "wasserstein":
            return -tf.reduce_mean(logits) if real else tf.reduce_mean(logits)
        target = 1.0 - smoothing if real else 0.0
        if loss == "least_squares":
            return tf.reduce_mean(tf.square(logits - target))
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(tf.fill(tf.shape(logits), target), logits))

    def _discriminate(self, images, labels, real, smoothing=0.0):
        """Adversarial loss (+ ACGAN's label loss) of the discriminator's view of ``images``."""
        import keras
        import tensorflow as tf

        out = self.discriminator(self._d_inputs(images, labels), training=True)
        if self.config.conditional != "auxiliary":
            return self._adversarial(out, real, smoothing)
        logits, probs = out
        label_loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, probs))
        return self._adversarial(logits, real, smoothing) + label_loss

    def train_graph(self, images, labels):
        """Each critic step takes its own slice of the batch (WGAN: 5 x 64 real images); the
        generator update reuses the fake batch of the last critic step, so the generator runs
        forward once per update, not twice (the discriminator is already updated when it judges)."""
        import tensorflow as tf

        c = self.config
        real_batches = [tf.cast(images[i::c.critic_steps], tf.float32) / 255.0 for i in range(c.critic_steps)]
        label_batches = [labels[i::c.critic_steps] for i in range(c.critic_steps)]
        for real, real_labels in zip(real_batches[:-1], label_batches[:-1]):
            inputs, fake_labels = self._noise(tf.shape(real)[0])
            self._critic_update(real, real_labels, self.generator(inputs, training=True), fake_labels)
        real, real_labels = real_batches[-1], label_batches[-1]
        inputs, fake_labels = self._noise(tf.shape(real)[0])
        g_vars = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            fake = self.generator(inputs, training=True)
            with tape.stop_recording():
                d_loss = self._critic_update(real, real_labels, fake, fake_labels)
            g_loss, extra = self._generator_loss(fake, fake_labels)
            # the identity but under mixed_float16, whose LossScaleOptimizer unscales the gradients in apply
            scaled = self.g_optimizer.scale_loss(g_loss)
        self.g_optimizer.apply(replica_gradients(tape.gradient(scaled, g_vars)), g_vars)
        if self.average is not None:
            self._update_average()
        return {"d_loss": d_loss, "g_loss": g_loss, **extra}

    def _update_average(self):
        """average <- d * average + (1 - d) * weights, d = min(decay, (1 + t) / (10 + t)) after t generator
        steps (as tf.train.ExponentialMovingAverage's num_updates: without it the initial weights keep
        a share of decay^t, 2% after 3,750 steps at 0.999); the batch-norm statistics are copied."""
        import tensorflow as tf

        t = tf.cast(self.g_optimizer.iterations, tf.float32)
        decay = tf.minimum(self.config.generator_average, (1.0 + t) / (10.0 + t))
        for average, weight in zip(self.average.weights, self.generator.weights):
            average.assign(decay * average + (1.0 - decay) * weight if weight.trainable else weight)

    def _noise(self, n):
        """(generator inputs, the labels they ask for) of ``n`` fakes."""
        import tensorflow as tf

        z = self.rng.uniform([n, self.config.latent_dim], -1.0, 1.0)
        labels = self.rng.uniform([n], 0, max(self.classes, 1), dtype=tf.int64)
        return self._inputs(z, labels), labels

    def _critic_loss(self, real, labels, fake, fake_labels):
        return (self._discriminate(real, labels, True, self.config.label_smoothing)
                + self._discriminate(fake, fake_labels, False))

    def _generator_loss(self, fake, fake_labels):
        """(loss, extra metrics) of the generator's update."""
        return self._discriminate(fake, fake_labels, True), {}

    def _critic_update(self, real, labels, fake, fake_labels):
        import tensorflow as tf

        c, d_vars = self.config, self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            d_loss = self._critic_loss(real, labels, fake, fake_labels)
            if c.gradient_penalty:
                mix = self.rng.uniform([tf.shape(real)[0], 1, 1, 1])
                d_loss += c.gradient_penalty * self.gradient_penalty(real, fake, labels, mix)
            scaled = self.d_optimizer.scale_loss(d_loss)
        self.d_optimizer.apply(replica_gradients(tape.gradient(scaled, d_vars)), d_vars)
        if c.clip_value is not None:
            for v in d_vars:
                v.assign(tf.clip_by_value(v, -c.clip_value, c.clip_value))
        return d_loss

    def gradient_penalty(self, real, fake, labels, mix):
        """Mean of (|grad_x D(x)| - 1)^2 at x = mix * real + (1 - mix) * fake (WGAN-GP)."""
        import tensorflow as tf

        mixed = mix * real + (1.0 - mix) * fake
        with tf.GradientTape() as tape:
            tape.watch(mixed)
            out = self.discriminator(self._d_inputs(mixed, labels), training=True)
            logits = out[0] if isinstance(out, (list, tuple)) else out
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
        from advdl.api import score

        result = score(self.scorer, self.sample(self.score_noise, self.score_labels), images,
                       labels=self.score_labels if self.conditional else None)
        return {k: result[k] for k in self.test_metric_names if k in result}

    def on_epoch_end(self, epoch):
        if self.run_dir is not None and (epoch + 1) % self.config.sample_every == 0:
            self.write_grid(self.run_dir / "samples" / f"epoch-{epoch + 1:04d}.png")

    def write_grid(self, path):
        from advdl.api import image_grid

        path.parent.mkdir(parents=True, exist_ok=True)
        image_grid(path, self.sample(self.fixed_noise, self.fixed_labels), GRID)

    def write_figures(self, run_dir, dataset):
        from advdl.api import image_grid

        self.write_grid(run_dir / "samples.png")
        for code in self.codes:  # InfoGAN's and StackedGAN's sweeps, the book's figures
            images, columns = self.sweep(code)
            image_grid(run_dir / f"sweep-{code}.png", images, columns)

    # -- state -------------------------------------------------------------------------------------
    def state_parts(self):
        parts = {name: getattr(self, name) for name in self.state_names}
        average = getattr(self, "average", None)
        return parts if average is None else parts | {"generator_average": average}

    def export_parts(self, images, labels):
        """The generator: noise (uniform in [-1, 1]) and, for a conditional GAN, an int label -> images in [0, 1]."""
        import keras

        noise, generator = keras.Input((self.config.latent_dim,), name="noise"), float32_copy(keras, self.sampler)
        inputs = (self.score_noise[:64],)
        if not self.conditional:
            return {"generator": ExportPart(keras.Model(noise, generator(noise), name="generator"), inputs)}
        label, one_hot = class_input(keras, self.classes)
        model = keras.Model([noise, label], generator([noise, one_hot]), name="generator")
        return {"generator": ExportPart(model, (*inputs, self.score_labels[:64].astype(np.int32)))}

    def save_model(self, path):
        self.sampler.save(path)
        self.discriminator.save(path.with_name("discriminator.keras"))

    def load_model(self, path):
        load_weights(self.sampler, path)

