"""CycleGAN (the book's chapter 7, Zhu et al. 2017): unpaired translation between two image
domains. G: A -> B and F: B -> A are U-Nets with instance normalisation; D_A and D_B are PatchGAN
discriminators (one least-squares verdict per patch):

    D_X: (D_X(x) - 1)^2 + D_X(fake x)^2                                     for X in A, B
    G, F: (D_B(G(a)) - 1)^2 + (D_A(F(b)) - 1)^2
          + cycle_weight * (|F(G(a)) - a| + |G(F(b)) - b|)
          + identity_weight * (|G(b) - b| + |F(a) - a|)     (domains with equal channels only)

The run's dataset is domain A (its batches come from the trainer); the model draws domain B's
unpaired batches itself, in an order fixed by the seed and the number of images drawn so far.
"""

import numpy as np

from advdl.api import ConfigError, DataError, ExportPart, float32_copy, load_weights, resize_images

from .gan import GAN, GRID

EVAL_IMAGES = 2000  # held-out images per domain that each evaluation translates


def instance_normalization(keras, dtype):
    return keras.layers.GroupNormalization(groups=-1, epsilon=1e-5, dtype=dtype)  # one group per channel


def unet(keras, shape, out_channels, filters, dtype, name):
    """3x3 convolutions (``filters`` at stride 1; 2x, 4x, 8x as many at stride 2; the book: 32, 64,
    128, 256) with LeakyReLU and, after the first, instance normalisation; transposed convolutions back up, each
    concatenated with the encoder's output of the same size; a sigmoid image. Sides that do not
    divide by 8 are zero-padded and cropped back."""
    from keras import layers

    height, width, _ = shape
    pad_h, pad_w = -height % 8, -width % 8
    image = keras.Input(shape)
    x = layers.ZeroPadding2D(((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2)), dtype=dtype)(image)
    skips = []
    for width, strides in ((filters, 1), (2 * filters, 2), (4 * filters, 2), (8 * filters, 2)):
        x = layers.Conv2D(width, 3, strides=strides, padding="same", dtype=dtype)(x)
        if width != filters:  # as pix2pix's U-Net: the first layer's skip keeps each image's absolute levels
            x = instance_normalization(keras, dtype)(x)
        x = layers.LeakyReLU(0.2, dtype=dtype)(x)
        skips.append(x)
    for width, skip in zip((4 * filters, 2 * filters, filters), reversed(skips[:-1])):
        x = layers.Conv2DTranspose(width, 3, strides=2, padding="same", dtype=dtype)(x)
        x = layers.Activation("relu", dtype=dtype)(instance_normalization(keras, dtype)(x))
        x = layers.concatenate([x, skip], dtype=dtype)
    x = layers.Conv2D(out_channels, 3, padding="same", dtype=dtype)(x)
    x = layers.Cropping2D(((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2)), dtype=dtype)(x)
    return keras.Model(image, layers.Activation("sigmoid", dtype="float32")(x), name=name)


def patch_discriminator(keras, shape, filters, dtype, name):
    """PatchGAN: 4x4 LeakyReLU convolutions (2x ``filters`` and 4x at stride 2, 8x at stride 1;
    instance normalisation after the first), then one linear verdict per patch (7x7 of them for
    28x28 images)."""
    from keras import layers

    image = keras.Input(shape)
    x = image
    for width, strides in ((2 * filters, 2), (4 * filters, 2), (8 * filters, 1)):
        x = layers.Conv2D(width, 4, strides=strides, padding="same", dtype=dtype)(x)
        if width != 2 * filters:
            x = instance_normalization(keras, dtype)(x)
        x = layers.LeakyReLU(0.2, dtype=dtype)(x)
    return keras.Model(image, layers.Conv2D(1, 4, padding="same", dtype="float32")(x), name=name)


class CycleGAN(GAN):
    distributable = False  # two domains' batches per step: not one sliced batch
    metric_names = ("d_loss", "g_loss", "cycle_loss", "identity_loss")
    test_metric_names = ("b2a_accuracy", "a2b_accuracy", "cycle_error_a", "cycle_error_b", "b2a_frechet_distance",
                         "a2b_frechet_distance")
    state_names = ("generator", "generator_ba", "discriminator_a", "discriminator_b", "g_optimizer", "d_optimizer")
    directions = ("a2b", "b2a")
    model_file = "generator_ab.keras"

    @classmethod
    def extra_datasets(cls, config):
        if not config.data_b:
            raise ConfigError("cyclegan translates between two datasets: give domain B with --data-b NAME "
                              "(e.g. --data mnist --data-b colored_mnist)")
        return {"domain_b": config.data_b}

    @classmethod
    def check_data(cls, data_info):
        pass  # any image size: the U-Net pads to a multiple of 8

    def __init__(self, config, data_info, *, seed, total_steps, domain_b):  # not GAN's: other networks, shared methods
        from advdl.api import import_tensorflow, jit_compile, resolve_precision

        self.config, self.data_info, self.seed, self.total_steps = config, data_info, seed, total_steps
        c, shape_a = config, tuple(data_info.image_shape)
        self.domain_b = self._fit_domain_b(domain_b)
        shape_b = tuple(self.domain_b.x_train.shape[1:])
        if c.identity_weight and shape_a[-1] != shape_b[-1]:
            raise DataError(f"identity_weight needs domains with the same channels: {data_info.name} has "
                            f"{shape_a[-1]}, {c.data_b} {shape_b[-1]}")
        tf, keras = import_tensorflow(seed=seed)
        policy, why = resolve_precision(c.precision)
        if policy == "mixed_float16":  # no loss scaling in this model's steps
            policy, why = "float32", f"{why}; without loss scaling here: float32"
        self.precision, dtype = (policy, why), policy
        self.generator = unet(keras, shape_a, shape_b[-1], c.filters, dtype, "generator_ab")  # G: A -> B
        self.generator_ba = unet(keras, shape_b, shape_a[-1], c.filters, dtype, "generator_ba")  # F: B -> A
        self.discriminator_a = patch_discriminator(keras, shape_a, c.filters, dtype, "discriminator_a")
        self.discriminator_b = patch_discriminator(keras, shape_b, c.filters, dtype, "discriminator_b")
        self.g_variables = self.generator.trainable_variables + self.generator_ba.trainable_variables
        self.d_variables = self.discriminator_a.trainable_variables + self.discriminator_b.trainable_variables
        self.g_optimizer = keras.optimizers.Adam(c.g_learning_rate, beta_1=0.5)  # the CycleGAN paper's settings
        self.d_optimizer = keras.optimizers.Adam(c.d_learning_rate, beta_1=0.5)
        self.g_optimizer.build(self.g_variables)
        self.d_optimizer.build(self.d_variables)
        self.b_drawn = 0  # domain B images handed out so far: with the seed, fixes the next batch
        self._b_order = (None, None)
        self._train = tf.function(self._train_graph, jit_compile=jit_compile("gan_step"))
        self._translate = {"a2b": tf.function(lambda x: self.generator(x, training=False)),
                           "b2a": tf.function(lambda x: self.generator_ba(x, training=False))}
        self.scorer, self.scorer_for, self.run_dir = None, None, None  # set by the run before training
        self.scorer_b = None  # domain B's, made with scorer_for at the first evaluation

    def _fit_domain_b(self, domain_b):
        """Domain B at domain A's image size (resized with ``resize``, else an error)."""
        from dataclasses import replace

        (height, width, _), (height_b, width_b, _) = self.data_info.image_shape, domain_b.image_shape
        if (height, width) == (height_b, width_b):
            return domain_b
        if not self.config.resize:
            raise DataError(f"the domains differ in size: {self.data_info.name} is {height}x{width}, {domain_b.name} "
                            f"{height_b}x{width_b}; pass --resize true to resize {domain_b.name} to {height}x{width}")
        return replace(domain_b, x_train=resize_images(domain_b.x_train, height, width),
                       x_test=resize_images(domain_b.x_test, height, width))

    # -- training ----------------------------------------------------------------------------------
    def train_step(self, images, labels):
        return {name: float(value) for name, value in self._train(images, self._b_batch(len(images))).items()}

    def _b_batch(self, n):
        """The next ``n`` domain B training images: passes over B in orders drawn from (seed, pass)."""
        count = len(self.domain_b.x_train)
        passes, positions = np.divmod(self.b_drawn + np.arange(n), count)
        index = np.empty(n, np.int64)
        for p in np.unique(passes):
            if self._b_order[0] != p:
                self._b_order = (p, np.random.default_rng([self.seed, 1, int(p)]).permutation(count))
            index[passes == p] = self._b_order[1][positions[passes == p]]
        self.b_drawn += n
        return self.domain_b.x_train[index]

    def _train_graph(self, images_a, images_b):
        import tensorflow as tf

        c = self.config
        real_a, real_b = (tf.cast(x, tf.float32) / 255.0 for x in (images_a, images_b))
        with tf.GradientTape() as tape:
            fake_b, fake_a = self.generator(real_a, training=True), self.generator_ba(real_b, training=True)
            with tape.stop_recording():
                d_loss = self._discriminator_update(real_a, fake_a, real_b, fake_b)
            adversarial = (tf.reduce_mean(tf.square(self.discriminator_b(fake_b, training=True) - 1.0))
                           + tf.reduce_mean(tf.square(self.discriminator_a(fake_a, training=True) - 1.0)))
            cycle = (tf.reduce_mean(tf.abs(self.generator_ba(fake_b, training=True) - real_a))
                     + tf.reduce_mean(tf.abs(self.generator(fake_a, training=True) - real_b)))
            identity = tf.constant(0.0)
            if c.identity_weight:
                identity = (tf.reduce_mean(tf.abs(self.generator(real_b, training=True) - real_b))
                            + tf.reduce_mean(tf.abs(self.generator_ba(real_a, training=True) - real_a)))
            g_loss = adversarial + c.cycle_weight * cycle + c.identity_weight * identity
        self.g_optimizer.apply(tape.gradient(g_loss, self.g_variables), self.g_variables)
        return {"d_loss": d_loss, "g_loss": g_loss, "cycle_loss": cycle, "identity_loss": identity}

    def _discriminator_update(self, real_a, fake_a, real_b, fake_b):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            d_loss = 0.0
            for network, real, fake in ((self.discriminator_a, real_a, fake_a), (self.discriminator_b, real_b, fake_b)):
                d_loss += (tf.reduce_mean(tf.square(network(real, training=True) - 1.0))
                           + tf.reduce_mean(tf.square(network(fake, training=True))))
        self.d_optimizer.apply(tape.gradient(d_loss, self.d_variables), self.d_variables)
        return d_loss

    # -- translating and scoring -------------------------------------------------------------------
    def translated(self, direction, images):
        """``images`` (uint8 or float in [0, 1]) of the direction's source domain, translated."""
        images = np.asarray(images)
        x = images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images.astype(np.float32)
        return np.concatenate([self._translate[direction](x[i:i + 500]).numpy() for i in range(0, len(x), 500)])

    def _sources(self, direction, dataset):
        return (dataset.x_test, dataset.y_test) if direction == "a2b" else (self.domain_b.x_test, self.domain_b.y_test)

    def translate(self, direction, n, dataset):
        images, labels = self._sources(direction, dataset)
        return images[:n].astype(np.float32) / 255.0, self.translated(direction, images[:n]), labels[:n]

    def export_parts(self, images, labels):
        """Both generators: uint8 images of one domain -> images of the other in [0, 1]."""
        import keras

        parts = {}
        for direction, network, sources in (("a2b", self.generator, images), ("b2a", self.generator_ba,
                                                                              self.domain_b.x_test)):
            image = keras.Input(sources.shape[1:], dtype="uint8", name="image")
            model = keras.Model(image, float32_copy(keras, network)(keras.ops.cast(image, "float32") / 255.0),
                                name=direction)
            parts[direction] = ExportPart(model, (sources[:64],))
        return parts

    def generate(self, n, labels=None, seed=0):
        """Images of domain A: translations of domain B's held-out images (cycled from the first)."""
        images = self.domain_b.x_test
        return self.translated("b2a", images[np.arange(n) % len(images)])

    def evaluate(self, images, labels):
        """Cycle errors (mean absolute, pixels in [0, 1]) of the first 2,000 held-out images of each
        domain; with scorers: the classifier of the target domain recognising translations as the
        source's label, and the Frechet distance of translations to the target's held-out images."""
        self.fixed_a = images[:GRID]  # the grids' domain A images (on_epoch_end comes after evaluate)
        a, labels_a = images[:EVAL_IMAGES], labels[:EVAL_IMAGES]
        b, labels_b = self.domain_b.x_test[:EVAL_IMAGES], self.domain_b.y_test[:EVAL_IMAGES]
        to_b, to_a = self.translated("a2b", a), self.translated("b2a", b)
        result = {"cycle_error_a": float(np.mean(np.abs(self.translated("b2a", to_b) - a / 255.0))),
                  "cycle_error_b": float(np.mean(np.abs(self.translated("a2b", to_a) - b / 255.0)))}
        if self.scorer is None:
            return result
        from advdl.api import score

        if self.scorer_b is None:
            self.scorer_b = self.scorer_for(self.domain_b)  # domain B as this model holds it (resized)
        for direction, scorer, translations, source_labels, target in (
                ("b2a", self.scorer, to_a, labels_b, images), ("a2b", self.scorer_b, to_b, labels_a, b)):
            scores = score(scorer, translations, target, labels=source_labels if self._labels_match() else None)
            result[f"{direction}_frechet_distance"] = scores["frechet_distance"]
            if "label_accuracy" in scores:
                result[f"{direction}_accuracy"] = scores["label_accuracy"]
        return result

    def _labels_match(self):
        """Label accuracy of translations means something when both domains share their classes."""
        return self.domain_b.num_classes == self.data_info.num_classes

    def extra_scores(self, scorer, n, seed=0, dataset=None):
        """``advdl score``: the evaluation's scores on up to ``n`` held-out images per domain."""
        self.scorer = scorer
        return self.evaluate(dataset.x_test[:n], dataset.y_test[:n]) if dataset is not None else {}

    def write_grid(self, path):
        """Ten held-out images of each domain: source, translation and reconstruction rows."""
        from advdl.api import as_rgb, image_grid

        path.parent.mkdir(parents=True, exist_ok=True)
        rows = []
        for direction, back in (("a2b", "b2a"), ("b2a", "a2b")):
            images = (self.fixed_a if direction == "a2b" else self.domain_b.x_test[:GRID]).astype(np.float32) / 255.0
            forward = self.translated(direction, images)
            rows += [as_rgb(images), as_rgb(forward), as_rgb(self.translated(back, forward))]
        image_grid(path, np.concatenate(rows), GRID)

    def write_figures(self, run_dir, dataset):
        self.fixed_a = dataset.x_test[:GRID]
        self.write_grid(run_dir / "samples.png")

    # -- state -------------------------------------------------------------------------------------
    def get_state(self):
        return super().get_state() | {"b_drawn": self.b_drawn}

    def set_state(self, state):
        super().set_state(state)
        self.b_drawn = state["b_drawn"]

    def save_model(self, path):
        """G (A -> B) at ``path``, F (B -> A) beside it as generator_ba.keras."""
        self.generator.save(path)
        self.generator_ba.save(path.with_name("generator_ba.keras"))

    def load_model(self, path):
        load_weights(self.generator, path)
        load_weights(self.generator_ba, path.with_name("generator_ba.keras"))
