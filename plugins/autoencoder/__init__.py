"""Autoencoders (the book's chapter 3) and variational autoencoders (chapter 8): autoencoder, dae,
colorization, vae, cvae, beta-vae. Cheap to import: configs, presets and the registering hook."""

from dataclasses import dataclass
from typing import Literal

from advdl.api import MAX_WIDTH, AlgorithmSpec, ConfigError, hookimpl, option

PRECISION_HELP = ("bfloat16: Keras mixed_bfloat16 (float32 weights, outputs and losses); mixed_float16: float16 "
                  "arithmetic with loss scaling; auto: bfloat16 on GPUs of compute capability 8.0+, mixed_float16 on "
                  "7.x, float32 on older GPUs and on every CPU (advdl system shows the choice).")


@dataclass(frozen=True, kw_only=True)
class AutoencoderConfig:
    latent_dim: int = option(16, "Size of the latent vector (2 draws the latent scatter plot).", low=1, high=MAX_WIDTH)
    filters: tuple[int, ...] = option((32, 64), "Filters of the encoder's 3x3 stride-2 convolutions (the decoder "
                                                "mirrors them).", low=1, high=MAX_WIDTH)
    batch_size: int = option(32, "Images per gradient step (the book: 32).", low=1)
    learning_rate: float = option(1e-3, "Adam learning rate.", above=0)
    noise_mean: float = option(0.0, "Corrupt inputs with Gaussian noise of this mean (clipped to [0, 1]; dae: 0.5).")
    noise_std: float = option(0.0, "... and this standard deviation (0: no corruption; dae: 0.5).", low=0)
    grey_input: bool = option(False, "Feed the network the luminance of colour images; it outputs colour "
                                     "(colorization).")
    precision: Literal["auto", "float32", "bfloat16", "mixed_float16"] = option("auto", PRECISION_HELP)

    def __post_init__(self):
        if not self.filters:
            raise ConfigError("filters must name at least one convolution")


@dataclass(frozen=True, kw_only=True)
class DAEConfig(AutoencoderConfig):
    noise_mean: float = option(0.5, "Mean of the Gaussian noise added to inputs (the book: 0.5).")
    noise_std: float = option(0.5, "Standard deviation of the noise (the book: 0.5); corrupted pixels are clipped "
                                   "to [0, 1].")


@dataclass(frozen=True, kw_only=True)
class ColorizationConfig(AutoencoderConfig):
    latent_dim: int = option(256, "Size of the latent vector (the book: 256).")
    filters: tuple[int, ...] = option((64, 128, 256), "Filters of the encoder's 3x3 stride-2 convolutions.")
    grey_input: bool = option(True, "Feed the network the luminance of the colour images; it outputs colour.")


@dataclass(frozen=True, kw_only=True)
class VAEConfig:
    network: Literal["mlp", "cnn"] = option("mlp", "mlp: one hidden layer of hidden_units each way; cnn: 3x3 "
                                                   "stride-2 convolutions (32, 64) and a 16-unit layer.")
    latent_dim: int = option(2, "Size of z (2 draws the latent scatter plot and the manifold grid).", low=1,
                             high=MAX_WIDTH)
    hidden_units: int = option(512, "Units of the MLP's hidden layers (the book: 512).", low=1, high=MAX_WIDTH)
    reconstruction: Literal["bce", "mse"] = option("bce", "Reconstruction loss, summed over pixels: binary "
                                                          "cross-entropy or squared error.")
    beta: float = option(1.0, "Weight of the KL term (beta-VAE; 1 is the ELBO).", above=0)
    conditional: bool = option(False, "One-hot labels into the encoder and the decoder (CVAE).")
    batch_size: int = option(128, "Images per gradient step (the book: 128).", low=1)
    learning_rate: float = option(1e-3, "Adam learning rate.", above=0)
    precision: Literal["auto", "float32", "bfloat16", "mixed_float16"] = option("auto", PRECISION_HELP)


@dataclass(frozen=True, kw_only=True)
class CVAEConfig(VAEConfig):
    network: Literal["mlp", "cnn"] = option("cnn", "cnn (the book's CVAE) or mlp.")
    conditional: bool = option(True, "One-hot labels into the encoder and the decoder.")


@dataclass(frozen=True, kw_only=True)
class BetaVAEConfig(CVAEConfig):
    beta: float = option(7.0, "Weight of the KL term (the book shows 1, 7 and 10).")


AUTOENCODER = "advdl_plugins.autoencoder.autoencoder:Autoencoder"
VAE = "advdl_plugins.autoencoder.vae:VAE"

MODELS = (
    # name, summary, config, factory, CPU epochs, book preset (data, epochs)[, the CPU preset's data]
    ("autoencoder", "Convolutional autoencoder to a 16-d latent, MSE (chapter 3).", AutoencoderConfig, AUTOENCODER,
     10, ("mnist", 1)),
    ("dae", "Denoising autoencoder: corrupted inputs, clean targets (chapter 3).", DAEConfig, AUTOENCODER, 10,
     ("mnist", 10)),
    ("colorization", "Grey -> colour autoencoder (chapter 3); trains on colour images, e.g. cifar10, tinted_mnist.",
     ColorizationConfig, AUTOENCODER, 10, ("cifar10", 30), "tinted_mnist"),
    ("vae", "Variational autoencoder, MLP or CNN: reparameterisation, reconstruction + KL (chapter 8).", VAEConfig,
     VAE, 50, ("mnist", 50)),
    ("cvae", "Conditional VAE: one-hot labels into encoder and decoder (chapter 8).", CVAEConfig, VAE, 30,
     ("mnist", 30)),
    ("beta-vae", "beta-VAE: the conditional VAE with the KL term weighted by beta (chapter 8).", BetaVAEConfig, VAE,
     30, ("mnist", 30)),
)


def presets(epochs, book, cpu_data="mnist"):
    data, book_epochs = book
    return {
        cpu_data: {"description": f"CPU-sized: {epochs} epochs on the offline {cpu_data} split.",
                   "run": {"epochs": epochs}},
        "book": {"description": f"The book's {book_epochs} epochs on the full {data} training set.", "data": data,
                 "run": {"epochs": book_epochs}},
    }


@hookimpl
def advdl_register_algorithms(register):
    for name, summary, config, factory, *preset_settings in MODELS:
        register(AlgorithmSpec(name=name, family="generative", summary=summary, config=config, factory=factory,
                               presets=presets(*preset_settings)))
