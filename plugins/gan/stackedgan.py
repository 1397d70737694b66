"""StackedGAN (the book's chapter 6, Huang et al. 2017): a classifier is split into two stages,
E0: image -> features f1 (256) and E1: f1 -> label; two GANs learn to invert them, one stage each:

    G1: (label y, z1) -> f1         D1: f1 -> real or fake, and z1 read back (Q1)
    G0: (f1, z0)      -> image      D0: image -> real or fake, and z0 read back (Q0)

    D_i: adversarial(real, fake) + entropy_weight * MSE(Q_i(fake), z_i)
    G1:  adversarial + entropy_weight * MSE(Q1, z1) + conditional_weight * CE(E1(G1(y, z1)), y)
    G0:  adversarial + entropy_weight * MSE(Q0, z0) + conditional_weight * MSE(E0(G0(f1, z0)), f1)

The run first trains the encoder for ``encoder_steps`` batches, then both GANs side by side on
the frozen encoder's features of real images (the book's independent training); generation
stacks them: y, z1 -> G1 -> f1, z0 -> G0 -> image. The entropy terms train Q on fakes only (the
book also fits Q to real inputs against the fakes' noise, which carries no information).
"""

import numpy as np

from advdl.api import DataError, ExportPart, class_input, float32_copy

from .gan import GAN, GRID, SCORE_SAMPLES, discriminator, generator


def encoder(keras, shape, feature_dim, classes):
    """The book's classifier as two models: E0 (two 3x3 convolution / max-pool stages, Dense
    features with ReLU) and E1 (softmax over the labels)."""
    from keras import layers

    image = keras.Input(shape)
    x = image
    for filters in (32, 64):
        x = layers.MaxPooling2D()(layers.Conv2D(filters, 3, padding="same", activation="relu")(x))
    encoder0 = keras.Model(image, layers.Dense(feature_dim, activation="relu")(layers.Flatten()(x)), name="encoder0")
    features = keras.Input((feature_dim,))
    encoder1 = keras.Model(features, layers.Dense(classes, activation="softmax")(features), name="encoder1")
    return encoder0, encoder1


def feature_generator(keras, classes, noise_dim, feature_dim, dtype):
    """G1: (one-hot label, z1) -> Dense(512)-BN-ReLU twice -> ReLU features (float32, like E0's)."""
    from keras import layers

    label, z = keras.Input((classes,)), keras.Input((noise_dim,))
    x = layers.concatenate([label, z], dtype=dtype)
    for _ in range(2):
        x = layers.Activation("relu", dtype=dtype)(layers.BatchNormalization(dtype=dtype)(layers.Dense(512, dtype=dtype)(x)))
    return keras.Model([label, z], layers.Dense(feature_dim, activation="relu", dtype="float32")(x), name="generator1")


def feature_discriminator(keras, feature_dim, noise_dim, dtype):
    """D1: features -> Dense(256)-LeakyReLU twice -> a logit and the z1 it reads back."""
    from keras import layers

    features = keras.Input((feature_dim,))
    x = features
    for _ in range(2):
        x = layers.LeakyReLU(0.2, dtype=dtype)(layers.Dense(256, dtype=dtype)(x))
    heads = [layers.Dense(1, dtype="float32")(x), layers.Dense(noise_dim, dtype="float32")(x)]
    return keras.Model(features, heads, name="discriminator1")


def image_discriminator(keras, shape, noise_dim, dtype):
    """D0: the DCGAN discriminator plus a head reading z0 back from its features."""
    from keras import layers

    base = discriminator(keras, shape, 0, False, dtype)
    z = layers.Dense(noise_dim, dtype="float32")(base.get_layer(index=-2).output)
    return keras.Model(base.inputs, [base.outputs[0], z], name="discriminator0")


class StackedGAN(GAN):
    distributable = False  # two training phases (encoder, then GANs) chosen in Python per step
    metric_names = ("encoder_loss", "d0_loss", "g0_loss", "d1_loss", "g1_loss", "g1_conditional")
    test_metric_names = ("frechet_distance", "label_accuracy", "encoder_accuracy")
    state_names = ("encoder0", "encoder1", "generator0", "generator1", "discriminator0", "discriminator1",
                   "e_optimizer", "g_optimizer", "d_optimizer", "rng")
    codes = ("z0", "z1")
    conditional = True

    def __init__(self, config, data_info, *, seed, total_steps):  # not GAN's: other networks, shared methods
        from advdl.api import import_tensorflow, jit_compile, resolve_precision

        self.config, self.data_info, self.seed, self.total_steps = config, data_info, seed, total_steps
        tf, keras = import_tensorflow(seed=seed)
        c, shape, self.classes = config, data_info.image_shape, data_info.num_classes
        policy, why = resolve_precision(c.precision)
        if policy == "mixed_float16":  # no loss scaling in this model's steps
            policy, why = "float32", f"{why}; without loss scaling here: float32"
        self.precision, dtype = (policy, why), policy
        self.encoder0, self.encoder1 = encoder(keras, shape, c.feature_dim, self.classes)
        self.generator1 = feature_generator(keras, self.classes, c.noise_dim, c.feature_dim, dtype)
        self.generator0 = generator(keras, c.feature_dim + c.noise_dim, 0, shape, dtype)
        self.discriminator1 = feature_discriminator(keras, c.feature_dim, c.noise_dim, "float32")
        self.discriminator0 = image_discriminator(keras, shape, c.noise_dim, dtype)
        self.generator = self._stack(keras)
        self.e_variables = self.encoder0.trainable_variables + self.encoder1.trainable_variables
        self.g_variables = self.generator0.trainable_variables + self.generator1.trainable_variables
        self.d_variables = self.discriminator0.trainable_variables + self.discriminator1.trainable_variables
        self.e_optimizer = keras.optimizers.Adam(c.encoder_learning_rate)
        self.g_optimizer = keras.optimizers.RMSprop(c.g_learning_rate)  # one optimizer, per-variable state:
        self.d_optimizer = keras.optimizers.RMSprop(c.d_learning_rate)  # the same as one per network
        for optimizer, variables in ((self.e_optimizer, self.e_variables), (self.g_optimizer, self.g_variables),
                                     (self.d_optimizer, self.d_variables)):
            optimizer.build(variables)
        self.rng = tf.random.Generator.from_seed(seed)
        self._train_encoder = tf.function(self._encoder_graph)
        self._train = tf.function(self._train_graph, jit_compile=jit_compile("gan_step"))
        self._generate = tf.function(lambda *inputs: self.generator(list(inputs), training=False))
        self._encode = tf.function(lambda images: self.encoder1(self.encoder0(images, training=False), training=False))
        fixed = np.random.default_rng(seed + 1)
        self.fixed_labels = np.repeat(np.arange(GRID), GRID) % self.classes
        self.fixed_z1, self.fixed_z0 = (fixed.normal(0, c.noise_std, (GRID * GRID, c.noise_dim)) for _ in range(2))
        self.score_labels = np.arange(SCORE_SAMPLES) % self.classes
        self.score_z1, self.score_z0 = (fixed.normal(0, c.noise_std, (SCORE_SAMPLES, c.noise_dim)) for _ in range(2))
        self.scorer, self.run_dir = None, None

    def _stack(self, keras):
        """The generator a user samples: (one-hot label, z1, z0) -> G1 -> G0 -> image."""
        label, z1, z0 = keras.Input((self.classes,)), keras.Input((self.config.noise_dim,)), keras.Input((self.config.noise_dim,))
        features = self.generator1([label, z1])
        image = self.generator0(keras.layers.Concatenate(dtype="float32")([features, z0]))
        return keras.Model([label, z1, z0], image, name="stacked_generator")

    @classmethod
    def check_data(cls, data_info):
        super().check_data(data_info)
        if data_info.num_classes < 2:
            raise DataError(f"stackedgan's encoder is a classifier: it needs labelled images of at least 2 classes, "
                            f"'{data_info.name}' has {data_info.num_classes}")

    # -- training ----------------------------------------------------------------------------------
    def train_step(self, images, labels):
        # the encoder optimizer's step count (checkpointed with it) tells the phase
        graph = self._train_encoder if int(self.e_optimizer.iterations) < self.config.encoder_steps else self._train
        return {name: float(value) for name, value in graph(images, labels).items()}

    def _encoder_graph(self, images, labels):
        import keras
        import tensorflow as tf

        with tf.GradientTape() as tape:
            probs = self.encoder1(self.encoder0(tf.cast(images, tf.float32) / 255.0, training=True), training=True)
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, probs))
        self.e_optimizer.apply(tape.gradient(loss, self.e_variables), self.e_variables)
        return {"encoder_loss": loss}

    def _train_graph(self, images, labels):
        """Both GANs, one update each of D0, D1, G0 and G1 (G0 on the real images' features)."""
        import keras
        import tensorflow as tf

        c = self.config
        real = tf.cast(images, tf.float32) / 255.0
        n = tf.shape(real)[0]
        real_features = self.encoder0(real, training=False)
        z1, z0 = (self.rng.normal([n, c.noise_dim], stddev=c.noise_std) for _ in range(2))
        with tf.GradientTape() as tape:
            fake_features = self.generator1([tf.one_hot(labels, self.classes), z1], training=True)
            fake = self.generator0(tf.concat([real_features, z0], axis=1), training=True)
            with tape.stop_recording():
                d1_loss, d0_loss = self._discriminator_update(((real_features, fake_features, z1), (real, fake, z0)))
            g1_adversarial, z1_entropy = self._fool(self.discriminator1, fake_features, z1)
            g1_conditional = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
                labels, self.encoder1(fake_features, training=False)))
            g0_adversarial, z0_entropy = self._fool(self.discriminator0, fake, z0)
            g0_conditional = tf.reduce_mean(tf.square(self.encoder0(fake, training=False) - real_features))
            g1_loss = self._weighted(g1_adversarial, z1_entropy, g1_conditional)
            g0_loss = self._weighted(g0_adversarial, z0_entropy, g0_conditional)
            loss = g0_loss + g1_loss  # the two generators share no weights: each gets its own loss's gradient
        self.g_optimizer.apply(tape.gradient(loss, self.g_variables), self.g_variables)
        return {"d0_loss": d0_loss, "g0_loss": g0_loss, "d1_loss": d1_loss, "g1_loss": g1_loss,
                "g1_conditional": g1_conditional}

    def _weighted(self, adversarial, entropy, conditional):
        c = self.config
        return c.adversarial_weight * adversarial + c.entropy_weight * entropy + c.conditional_weight * conditional

    def _fool(self, discriminator, fake, z):
        """(adversarial loss of fakes labelled real, entropy loss: MSE of the noise read back)."""
        import tensorflow as tf

        logits, z_read = discriminator(fake, training=True)
        return self._adversarial(logits, True), tf.reduce_mean(tf.square(z_read - z))

    def _discriminator_update(self, pairs):
        import tensorflow as tf

        c = self.config
        with tf.GradientTape() as tape:
            losses = []
            for network, (real, fake, z) in zip((self.discriminator1, self.discriminator0), pairs):
                real_logits = network(real, training=True)[0]
                fake_logits, z_read = network(fake, training=True)
                losses.append(c.adversarial_weight * (self._adversarial(real_logits, True)
                                                      + self._adversarial(fake_logits, False))
                              + c.entropy_weight * tf.reduce_mean(tf.square(z_read - z)))
            total = tf.add_n(losses)
        self.d_optimizer.apply(tape.gradient(total, self.d_variables), self.d_variables)
        return losses

    # -- sampling and scoring ----------------------------------------------------------------------
    def sample(self, labels, z1, z0):
        """Images in [0, 1] for labels and both noise codes."""
        one_hot = np.eye(self.classes, dtype=np.float32)[np.asarray(labels)]
        z1, z0 = np.asarray(z1, np.float32), np.asarray(z0, np.float32)
        return np.concatenate([self._generate(one_hot[i:i + 500], z1[i:i + 500], z0[i:i + 500]).numpy()
                               for i in range(0, len(one_hot), 500)])

    def export_parts(self, images, labels):
        """The stacked generator: an int label, z1 and z0 (normal, std noise_std) -> images in [0, 1]; and the
        encoder, a classifier of uint8 images."""
        import keras

        label, one_hot = class_input(keras, self.classes)
        z1, z0 = (keras.Input((self.config.noise_dim,), name=name) for name in ("z1", "z0"))
        generator = keras.Model([label, z1, z0], float32_copy(keras, self.generator)([one_hot, z1, z0]), name="generator")
        image = keras.Input(self.data_info.image_shape, dtype="uint8", name="image")
        probabilities = self.encoder1(self.encoder0(keras.ops.cast(image, "float32") / 255.0))
        return {"generator": ExportPart(generator, (self.score_labels[:64].astype(np.int32),
                                                    self.score_z1[:64].astype(np.float32),
                                                    self.score_z0[:64].astype(np.float32))),
                "encoder": ExportPart(keras.Model(image, probabilities, name="encoder"), (images[:64],))}

    def generate(self, n, labels=None, seed=0):
        c, rng = self.config, np.random.default_rng(seed)
        labels = np.arange(n) % self.classes if labels is None else labels
        z1, z0 = (rng.normal(0, c.noise_std, (n, c.noise_dim)) for _ in range(2))
        return self.sample(labels, z1, z0)

    def sweep(self, code, seed=0):
        """One row per label; along the row ``code`` walks in a straight line from one draw to
        another while the other noise code stays fixed: what each stage's noise controls."""
        c, rng = self.config, np.random.default_rng(seed)
        rows, columns = self.classes, GRID
        start, end, other = (rng.normal(0, c.noise_std, (rows, 1, c.noise_dim)) for _ in range(3))
        walk = (start + np.linspace(0, 1, columns)[None, :, None] * (end - start)).reshape(-1, c.noise_dim)
        fixed = np.repeat(other, columns, axis=1).reshape(-1, c.noise_dim)
        labels = np.repeat(np.arange(rows), columns)
        return self.sample(labels, *((walk, fixed) if code == "z1" else (fixed, walk))), columns

    def evaluate(self, images, labels):
        """Frechet distance and label accuracy of 1,000 fixed samples (the scoring classifier, not
        the run's own encoder), and the encoder's accuracy on the held-out images."""
        encoder_accuracy = float(np.mean(np.concatenate(
            [self._encode(images[i:i + 1000].astype(np.float32) / 255.0).numpy().argmax(1)
             for i in range(0, len(images), 1000)]) == labels))
        if self.scorer is None:
            return {"encoder_accuracy": encoder_accuracy}
        from advdl.api import score

        result = score(self.scorer, self.sample(self.score_labels, self.score_z1, self.score_z0), images,
                       labels=self.score_labels)
        return {"frechet_distance": result["frechet_distance"], "label_accuracy": result["label_accuracy"],
                "encoder_accuracy": encoder_accuracy}

    def write_grid(self, path):
        from advdl.api import image_grid

        path.parent.mkdir(parents=True, exist_ok=True)
        image_grid(path, self.sample(self.fixed_labels, self.fixed_z1, self.fixed_z0), GRID)

    # -- state -------------------------------------------------------------------------------------
    def save_model(self, path):
        """The stacked generator, and the encoder as one classifier (encoder.keras)."""
        import keras

        self.generator.save(path)
        image = keras.Input(self.data_info.image_shape)
        keras.Model(image, self.encoder1(self.encoder0(image)), name="encoder").save(path.with_name("encoder.keras"))
