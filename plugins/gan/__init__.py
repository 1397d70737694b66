"""GANs (the book's chapters 4 and 5): DCGAN, LSGAN, CGAN, ACGAN, WGAN. Cheap to import."""

from dataclasses import dataclass
from typing import Literal

from advdl import AlgorithmSpec, ConfigError, hookimpl, option


@dataclass(frozen=True, kw_only=True)
class GANConfig:
    latent_dim: int = option(100, "Size of the generator's noise vector z ~ uniform(-1, 1).")
    batch_size: int = option(64, "Real images per step (the discriminator also sees as many fakes).")
    d_learning_rate: float = option(2e-4, "Discriminator (critic) RMSprop learning rate.")
    g_learning_rate: float = option(1e-4, "Generator RMSprop learning rate.")
    loss: Literal["bce", "least_squares", "wasserstein"] = option(
        "bce", "bce (DCGAN), least_squares (LSGAN) or wasserstein (WGAN: linear critic).")
    conditional: Literal["none", "input", "auxiliary"] = option(
        "none", "none; input: one-hot labels enter both networks (CGAN); auxiliary: the generator gets the label, "
                "the discriminator predicts it with a second head (ACGAN).")
    critic_steps: int = option(1, "Discriminator (critic) updates per generator update (WGAN: 5).")
    clip_value: float | None = option(None, "Clip the critic's weights to [-c, c] after each update (WGAN: 0.01).")
    gradient_penalty: float = option(0.0, "WGAN-GP: weight of (|grad D(x_mix)| - 1)^2 at images mixed from real and "
                                          "fake by a uniform(0, 1) share per sample (use with clip_value=none; "
                                          "Gulrajani et al. use 10).")
    sample_every: int = option(5, "Write a fixed-noise sample grid every N epochs (and at the end).")

    def __post_init__(self):
        for name in ("latent_dim", "batch_size", "critic_steps", "sample_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("d_learning_rate", "g_learning_rate"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.clip_value is not None and self.clip_value <= 0:
            raise ConfigError(f"clip_value must be > 0 or none, got {self.clip_value}")
        if self.gradient_penalty < 0:
            raise ConfigError(f"gradient_penalty must be >= 0, got {self.gradient_penalty}")


@dataclass(frozen=True, kw_only=True)
class LSGANConfig(GANConfig):
    loss: Literal["bce", "least_squares", "wasserstein"] = option("least_squares", "least_squares (LSGAN).")


@dataclass(frozen=True, kw_only=True)
class CGANConfig(GANConfig):
    conditional: Literal["none", "input", "auxiliary"] = option("input", "input: one-hot labels enter both networks.")


@dataclass(frozen=True, kw_only=True)
class ACGANConfig(GANConfig):
    conditional: Literal["none", "input", "auxiliary"] = option("auxiliary", "auxiliary: a label-predicting head.")


@dataclass(frozen=True, kw_only=True)
class WGANConfig(GANConfig):
    loss: Literal["bce", "least_squares", "wasserstein"] = option("wasserstein", "wasserstein: linear critic.")
    d_learning_rate: float = option(5e-5, "Critic RMSprop learning rate (the book: 5e-5).")
    g_learning_rate: float = option(5e-5, "Generator RMSprop learning rate (the book: 5e-5).")
    critic_steps: int = option(5, "Critic updates per generator update.")
    clip_value: float | None = option(0.01, "Clip the critic's weights to [-c, c] after each update.")


def presets(epochs, book_steps=40_000):
    # 8,000 offline MNIST images in batches of 64: 125 steps per epoch
    return {
        "mnist": {"description": f"CPU-sized: {epochs} epochs ({epochs * 125:,} steps on the offline MNIST split).",
                  "run": {"epochs": epochs}},
        "book": {"description": f"The book's {book_steps:,} steps on the full MNIST training set (938 per epoch).",
                 "data": "mnist", "run": {"epochs": round(book_steps / 938)}},
    }


MODELS = (
    ("dcgan", "DCGAN: transposed-convolution generator, LeakyReLU discriminator (chapter 4).", GANConfig, 30),
    ("lsgan", "Least-squares GAN: the DCGAN networks, a linear discriminator and MSE loss (chapter 5).",
     LSGANConfig, 30),
    ("cgan", "Conditional GAN: one-hot labels enter generator and discriminator (chapter 4).", CGANConfig, 30),
    ("acgan", "Auxiliary-classifier GAN: the discriminator also predicts the label (chapter 5).", ACGANConfig, 30),
    ("wgan", "Wasserstein GAN: linear critic, 5 critic steps per generator step, weight clipping (chapter 5).",
     WGANConfig, 40),
)


@hookimpl
def advdl_register_algorithms(register):
    for name, summary, config, epochs in MODELS:
        register(AlgorithmSpec(name=name, family="generative", summary=summary, config=config,
                               factory="advdl_plugins.gan.gan:GAN", presets=presets(epochs),
                               paper="https://arxiv.org/abs/1406.2661"))
