"""InfoGAN (the book's chapter 6): the generator also takes a discrete code (10 classes) and
continuous codes (N(0, code_std) each); a recognition head Q on the discriminator's features
recovers them. Unsupervised: the real images' labels are never used.

    D: bce(D(x), 1) + bce(D(G(z, c)), 0) + info        G: bce(D(G(z, c)), 1) + info
    info = CE(c_discrete, Q_discrete) + continuous_weight * MSE(c_continuous, Q_continuous)

The MSE is the Gaussian log-likelihood of the continuous codes with a fixed variance, matching
how they are drawn (the book's sigmoid heads cannot reach the negative half of N(0, 0.5)).
"""

import numpy as np

from advdl.api import ExportPart, class_input, code_agreement, float32_copy

from .gan import GAN, GRID, discriminator, generator


def recognition_discriminator(keras, shape, discrete, continuous, dtype, filters=32):
    """The DCGAN discriminator plus Q: Dense(128)-LeakyReLU on its features, then the discrete
    code's probabilities and the continuous codes' means."""
    from keras import layers

    base = discriminator(keras, shape, 0, False, dtype, filters)
    features = base.get_layer(index=-2).output  # the flattened convolution features
    q = layers.LeakyReLU(0.2, dtype=dtype)(layers.Dense(128, dtype=dtype)(features))
    q_discrete = layers.Dense(discrete, activation="softmax", dtype="float32")(q)
    q_continuous = layers.Dense(continuous, dtype="float32")(q)
    return keras.Model(base.inputs, [base.outputs[0], q_discrete, q_continuous], name="discriminator")


class InfoGAN(GAN):
    metric_names = ("d_loss", "g_loss", "info_loss")
    test_metric_names = ("frechet_distance", "code_accuracy")

    def __init__(self, config, data_info, *, seed, total_steps):
        super().__init__(config, data_info, seed=seed, total_steps=total_steps)
        c = config
        self.codes = ("discrete", *(f"c{i + 1}" for i in range(c.continuous_codes)))
        self.fixed_labels = np.repeat(np.arange(GRID), GRID) % c.discrete_codes  # rows of the grid: codes 0..9
        fixed = np.random.default_rng(seed + 2)
        self.score_labels = np.arange(len(self.score_noise)) % c.discrete_codes
        self.score_continuous = fixed.normal(0, c.code_std, (len(self.score_noise), c.continuous_codes))

    def build_networks(self, keras, dtype):
        c, shape = self.config, self.data_info.image_shape
        inputs = c.latent_dim + c.discrete_codes + c.continuous_codes
        return (generator(keras, inputs, 0, shape, dtype, c.filters),
                recognition_discriminator(keras, shape, c.discrete_codes, c.continuous_codes, dtype, c.filters))

    # -- training ----------------------------------------------------------------------------------
    def _noise(self, n):
        import tensorflow as tf

        c = self.config
        z = self.rng.uniform([n, c.latent_dim], -1.0, 1.0)
        discrete = self.rng.uniform([n], 0, c.discrete_codes, dtype=tf.int64)
        continuous = self.rng.normal([n, c.continuous_codes], stddev=c.code_std)
        inputs = tf.concat([z, tf.one_hot(discrete, c.discrete_codes), continuous], axis=1)
        return inputs, (discrete, continuous)

    def _info_loss(self, q_discrete, q_continuous, codes):
        import keras
        import tensorflow as tf

        discrete, continuous = codes
        cross_entropy = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(discrete, q_discrete))
        return cross_entropy + self.config.continuous_weight * tf.reduce_mean(tf.square(q_continuous - continuous))

    def _critic_loss(self, real, labels, fake, codes):
        real_logits = self.discriminator(real, training=True)[0]
        fake_logits, q_discrete, q_continuous = self.discriminator(fake, training=True)
        return (self._adversarial(real_logits, True, self.config.label_smoothing) + self._adversarial(fake_logits, False)
                + self.config.info_weight * self._info_loss(q_discrete, q_continuous, codes))

    def _generator_loss(self, fake, codes):
        logits, q_discrete, q_continuous = self.discriminator(fake, training=True)
        info = self._info_loss(q_discrete, q_continuous, codes)
        return self._adversarial(logits, True) + self.config.info_weight * info, {"info_loss": info}

    # -- sampling and scoring ----------------------------------------------------------------------
    def sample(self, noise, labels=None, continuous=None):
        """Images for ``noise`` with discrete codes ``labels`` (default 0) and continuous codes
        ``continuous`` (default 0)."""
        c, n = self.config, len(noise)
        discrete = np.zeros(n, np.int64) if labels is None else np.asarray(labels)
        continuous = np.zeros((n, c.continuous_codes)) if continuous is None else np.asarray(continuous)
        inputs = np.concatenate([noise, np.eye(c.discrete_codes)[discrete], continuous], axis=1).astype(np.float32)
        return np.concatenate([self._generate(inputs[i:i + 500]).numpy() for i in range(0, n, 500)])

    def export_parts(self, images, labels):
        """The generator: noise, the discrete code (an int) and the continuous codes -> images in [0, 1]."""
        import keras

        c = self.config
        noise, continuous = keras.Input((c.latent_dim,), name="noise"), keras.Input((c.continuous_codes,), name="continuous")
        code, one_hot = class_input(keras, c.discrete_codes, name="code")
        image = float32_copy(keras, self.sampler)(keras.ops.concatenate([noise, one_hot, continuous], axis=1))
        inputs = (self.score_noise[:64], self.score_labels[:64].astype(np.int32),
                  self.score_continuous[:64].astype(np.float32))
        return {"generator": ExportPart(keras.Model([noise, code, continuous], image, name="generator"), inputs)}

    def generate(self, n, labels=None, seed=0):
        """``n`` images, the discrete code cycling 0, 1, 2, ..., continuous codes drawn as in training."""
        c, rng = self.config, np.random.default_rng(seed)
        noise = rng.uniform(-1, 1, (n, c.latent_dim)).astype(np.float32)
        return self.sample(noise, np.arange(n) % c.discrete_codes, rng.normal(0, c.code_std, (n, c.continuous_codes)))

    def sweep(self, code, seed=0):
        """discrete: one noise vector per row, the code 0..K-1 along it; cI: one discrete code per
        row, continuous code I from -2 to 2 along it (4 standard deviations of the default 0.5)."""
        c, rng = self.config, np.random.default_rng(seed)
        rows = c.discrete_codes
        noise = rng.uniform(-1, 1, (rows, c.latent_dim)).astype(np.float32)
        if code == "discrete":
            columns = c.discrete_codes
            return self.sample(np.repeat(noise, columns, 0), np.tile(np.arange(columns), rows)), columns
        values, columns = np.linspace(-2.0, 2.0, GRID), GRID
        continuous = np.zeros((rows * columns, c.continuous_codes))
        continuous[:, int(code[1:]) - 1] = np.tile(values, rows)
        return self.sample(np.repeat(noise, columns, 0), np.repeat(np.arange(rows), columns), continuous), columns

    def _agreement(self, scorer, images, codes):
        _, probs = scorer(images)
        share, mapping = code_agreement(codes, probs.argmax(1), self.config.discrete_codes)
        return {"code_accuracy": share, "code_mapping": mapping}

    def evaluate(self, images, labels):
        """Frechet distance of 1,000 fixed samples and the agreement of their discrete code with the
        classifier under the best one-to-one mapping."""
        if self.scorer is None:
            return {}
        from advdl.api import score

        samples = self.sample(self.score_noise, self.score_labels, self.score_continuous)
        result = {"frechet_distance": score(self.scorer, samples, images)["frechet_distance"]}
        return result | {"code_accuracy": self._agreement(self.scorer, samples, self.score_labels)["code_accuracy"]}

    def extra_scores(self, scorer, n, seed=0, dataset=None):
        return self._agreement(scorer, self.generate(n, seed=seed), np.arange(n) % self.config.discrete_codes)
