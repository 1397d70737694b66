"""Autoencoders on the core's Model interface (the book's chapter 3), one compiled step each:

    autoencoder:   x -> encoder -> z -> decoder -> x_hat,            loss MSE(x_hat, x)
    dae:           corrupt(x) -> ... -> x_hat,                        loss MSE(x_hat, x)
                   corrupt(x) = clip(x + N(noise_mean, noise_std), 0, 1)
    colorization:  grey(x) -> ... -> x_hat (colour),                  loss MSE(x_hat, x)

The encoder is 3x3 stride-2 ReLU convolutions and a linear Dense latent; the decoder mirrors it
with transposed convolutions and ends in a sigmoid image (cropped back when the side does not
halve evenly, e.g. 28 -> 14 -> 7 -> 4 -> ... -> 32 -> 28).
"""

import math

import numpy as np

from advdl.api import (
    LUMINANCE,
    ConfigError,
    DataError,
    ExportPart,
    Model,
    as_rgb,
    float32_outputs,
    import_tensorflow,
    jit_compile,
    load_weights,
    optimizer_for,
    policy_scope,
    replica_gradients,
    resolve_precision,
)

EVAL_BATCH = 1000
NOISE_SEED = 20_240_101  # the held-out corruption is the same in every evaluation and every run
FIGURE_IMAGES = 10
MANIFOLD = 15
DARK_LOGIT = -2.2  # sigmoid(-2.2) = 0.1  # decodings per side of the 2-d latent manifold grid


def encoder_decoder(keras, shape, out_channels, filters, latent_dim, in_channels=None):
    """(encoder, decoder) Keras models; the encoder takes (H, W, in_channels) images."""
    from keras import layers

    height, width, channels = shape
    image = keras.Input((height, width, in_channels or channels))
    x = image
    for f in filters:
        x = layers.Conv2D(f, 3, strides=2, padding="same", activation="relu")(x)
    inner = tuple(x.shape[1:])
    latent = layers.Dense(latent_dim, name="latent")(layers.Flatten()(x))
    encoder = keras.Model(image, latent, name="encoder")

    z = keras.Input((latent_dim,))
    x = layers.Reshape(inner)(layers.Dense(math.prod(inner), activation="relu")(z))
    for f in reversed(filters):
        x = layers.Conv2DTranspose(f, 3, strides=2, padding="same", activation="relu")(x)
    # the sigmoid starts near dark pixels' level (0.1): from 0.5, the first steps on mostly dark colour
    # images (tinted_mnist) drive it into saturation at 0, where the MSE gradient vanishes for good
    x = layers.Conv2DTranspose(out_channels, 3, padding="same", activation="sigmoid",
                               bias_initializer=keras.initializers.Constant(DARK_LOGIT))(x)
    extra_h, extra_w = x.shape[1] - height, x.shape[2] - width
    if extra_h or extra_w:
        x = layers.Cropping2D(((extra_h // 2, extra_h - extra_h // 2), (extra_w // 2, extra_w - extra_w // 2)))(x)
    return encoder, keras.Model(z, x, name="decoder")


class Autoencoder(Model):
    distributable = True
    device_batches = True  # train_step takes tensors: the training set may stay on the device
    model_file = "autoencoder.keras"
    metric_names = ("loss",)
    scored = False  # reconstruction errors need no scoring classifier

    def __init__(self, config, data_info, *, seed, total_steps):
        super().__init__(config, data_info, seed=seed, total_steps=total_steps)
        c, shape = config, data_info.image_shape
        self.colorize = c.grey_input
        if self.colorize and shape[-1] != 3:
            raise DataError(f"colorization learns grey -> colour from colour images; '{data_info.name}' is grey "
                            f"(try cifar10, tinted_mnist or colored_mnist)")
        most = (max(shape[:2]) - 1).bit_length()  # stride-2 convolutions to 1x1; the decoder's doublings past it
        if len(c.filters) > most:  # make images of 2**len(filters) pixels a side, cropped back
            raise ConfigError(f"filters: {len(c.filters)} stride-2 convolutions halve {shape[0]}x{shape[1]} images "
                              f"past one pixel; give at most {most}")
        self.corrupts = c.noise_std > 0
        self.test_metric_names = ("test_mse",) + (("input_mse",) if self.corrupts or self.colorize else ())
        tf, keras = import_tensorflow(seed=seed)
        self.precision = resolve_precision(c.precision, cpu_bfloat16=False)  # (Keras dtype policy, why)
        with policy_scope(keras, self.precision[0]):
            encoder, decoder = encoder_decoder(keras, shape, shape[-1], c.filters, c.latent_dim,
                                               in_channels=1 if self.colorize else None)
        self.encoder, self.decoder = float32_outputs(keras, encoder), float32_outputs(keras, decoder)
        self.network = keras.Model(self.encoder.inputs, self.decoder(self.encoder.outputs[0]), name="autoencoder")
        self.optimizer = optimizer_for(keras, keras.optimizers.Adam(c.learning_rate), self.precision[0])
        self.optimizer.build(self.network.trainable_variables)
        self.rng = tf.random.Generator.from_seed(seed)
        self._train = tf.function(self.train_graph, jit_compile=jit_compile("autoencoder_step"))  # per device
        self._reconstruct = tf.function(lambda x: self.network(x, training=False))
        self._encode = tf.function(lambda x: self.encoder(x, training=False))
        self._decode = tf.function(lambda z: self.decoder(z, training=False))

    def count_params(self):
        return int(self.network.count_params())

    # -- training ----------------------------------------------------------------------------------
    def inputs(self, clean):
        """What the network sees of clean images in [0, 1] in training: grey (colorization), corrupted
        by the model's RNG (dae), or the images themselves."""
        import tensorflow as tf

        if self.colorize:
            return tf.reduce_sum(clean * tf.constant(LUMINANCE), axis=-1, keepdims=True)
        if not self.corrupts:
            return clean
        noise = self.rng.normal(tf.shape(clean), self.config.noise_mean, self.config.noise_std)
        return tf.clip_by_value(clean + noise, 0.0, 1.0)

    def train_step(self, images, labels):
        return {"loss": float(self._train(images, labels)["loss"])}

    def train_graph(self, images, labels):
        import tensorflow as tf

        clean = tf.cast(images, tf.float32) / 255.0
        x = self.inputs(clean)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(self.network(x, training=True) - clean))
            scaled = self.optimizer.scale_loss(loss)  # the identity but under mixed_float16 (unscaled in apply)
        variables = self.network.trainable_variables
        self.optimizer.apply(replica_gradients(tape.gradient(scaled, variables)), variables)
        return {"loss": loss}

    # -- evaluation and figures --------------------------------------------------------------------
    def held_out_noise(self, shape, std=None):
        c = self.config
        return np.random.default_rng(NOISE_SEED).normal(c.noise_mean, c.noise_std if std is None else std,
                                                        shape).astype(np.float32)

    def reconstruct(self, images, noise_std=None):
        """(network inputs, outputs) for uint8 ``images``, the held-out corruption fixed."""
        clean = images.astype(np.float32) / 255.0
        if self.corrupts or noise_std is not None:
            x = np.clip(clean + self.held_out_noise(clean.shape, noise_std), 0.0, 1.0)
        else:
            x = np.asarray(self.inputs(clean))
        out = np.concatenate([self._reconstruct(x[i:i + EVAL_BATCH]).numpy() for i in range(0, len(x), EVAL_BATCH)])
        return x, out

    def evaluate(self, images, labels):
        """Mean squared error of the outputs to the clean held-out images; for dae and colorization
        also that of the inputs themselves (the corrupted or grey images: what the model improves on)."""
        x, out = self.reconstruct(images)
        clean = images.astype(np.float32) / 255.0
        result = {"test_mse": float(np.mean(np.square(out - clean)))}
        if "input_mse" in self.test_metric_names:
            result["input_mse"] = float(np.mean(np.square(as_rgb(x) - clean)))
        return result

    def encode(self, images):
        """Latent codes of clean uint8 images (the plain autoencoder's scatter plot)."""
        clean = images.astype(np.float32) / 255.0
        return np.concatenate([self._encode(clean[i:i + EVAL_BATCH]).numpy() for i in range(0, len(clean), EVAL_BATCH)])

    def write_figures(self, run_dir, dataset):
        from advdl.api import image_grid, latent_scatter, line_plot

        images = dataset.x_test[:FIGURE_IMAGES]
        x, out = self.reconstruct(images)
        rows = [images.astype(np.float32) / 255.0] + ([x] if self.corrupts or self.colorize else []) + [out]
        image_grid(run_dir / "reconstructions.png", np.concatenate([as_rgb(r) if self.colorize else r for r in rows]),
                   FIGURE_IMAGES)
        if self.config.latent_dim == 2 and not self.corrupts and not self.colorize:
            codes = self.encode(dataset.x_test)
            latent_scatter(run_dir / "latent.png", codes, dataset.y_test,
                           f"{self.data_info.name}: latent codes of held-out images")
            (x0, y0), (x1, y1) = np.percentile(codes, [2, 98], axis=0)  # the manifold over where the codes lie
            grid = np.stack(np.meshgrid(np.linspace(x0, x1, MANIFOLD), np.linspace(y1, y0, MANIFOLD)), -1).reshape(-1, 2)
            image_grid(run_dir / "manifold.png", self._decode(grid.astype(np.float32)).numpy(), MANIFOLD)
        if self.corrupts:
            levels = np.round(np.linspace(0.0, 1.0, 11), 2)
            errors = [float(np.mean(np.square(self.reconstruct(dataset.x_test, std)[1]
                                              - dataset.x_test.astype(np.float32) / 255.0))) for std in levels]
            line_plot(run_dir / "noise_levels.png", levels, errors, "noise std (mean held at noise_mean)",
                      "held-out MSE to the clean image", "Denoising error against noise level")

    def generate(self, n, labels=None, seed=0):
        raise ConfigError(f"{type(self).__name__.lower()} models reconstruct and do not sample: see "
                          "reconstructions.png in the run folder, or use vae / cvae")

    # -- state -------------------------------------------------------------------------------------
    def state_parts(self):
        return {"network": self.network, "optimizer": self.optimizer, "rng": self.rng}

    def export_parts(self, images, labels):
        """The encoder (network inputs in [0, 1]: grey for colorization, noisy for a denoiser -> codes), the
        decoder (codes -> images in [0, 1]) and the two as one (the autoencoder)."""
        x, _ = self.reconstruct(images[:64])
        codes = np.asarray(self._encode(x))
        return {"encoder": ExportPart(self.encoder, (x,)), "decoder": ExportPart(self.decoder, (codes,)),
                "autoencoder": ExportPart(self.network, (x,))}

    def save_model(self, path):
        self.network.save(path)

    def load_model(self, path):
        load_weights(self.network, path)

