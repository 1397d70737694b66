"""GANs (the book's chapters 4 to 6): DCGAN, LSGAN, CGAN, ACGAN, WGAN, InfoGAN, StackedGAN, CycleGAN. Cheap to import."""

from dataclasses import dataclass
from typing import Literal

from advdl.api import MAX_WIDTH, AlgorithmSpec, ConfigError, hookimpl, option

MAX_CRITIC_STEPS = 100  # each is unrolled into the compiled step (WGAN: 5, and 100 in its first generator steps)

PRECISION_HELP = ("bfloat16: Keras mixed_bfloat16 (bfloat16 arithmetic, float32 weights and losses); mixed_float16: "
                  "float16 arithmetic with loss scaling (both optimizers); auto: bfloat16 on GPUs of compute "
                  "capability 8.0+ and on a CPU with native bfloat16 (avx512_bf16, AMX), mixed_float16 on 7.x GPUs, "
                  "float32 elsewhere (advdl system shows the choice).")
STAGED_PRECISION_HELP = ("bfloat16: Keras mixed_bfloat16 (bfloat16 arithmetic, float32 weights and losses); auto: "
                         "bfloat16 where the machine has it natively (advdl system), else float32 (this model has no "
                         "loss scaling: auto's mixed_float16 becomes float32).")


@dataclass(frozen=True, kw_only=True)
class GANConfig:
    latent_dim: int = option(100, "Size of the generator's noise vector z ~ uniform(-1, 1).", low=1, high=MAX_WIDTH)
    batch_size: int = option(64, "Real images per critic step (the discriminator also sees as many fakes).", low=1)
    filters: int = option(32, "Width of the discriminator's first convolution, doubling at each of its 4 (the "
                              "book: 32, 64, 128, 256); the generator's have 4x, 2x and 1x as many (the book: "
                              "128, 64, 32). Compute grows with its square.", low=1, high=MAX_WIDTH // 8)
    d_learning_rate: float = option(2e-4, "Discriminator (critic) RMSprop learning rate.", above=0)
    g_learning_rate: float = option(1e-4, "Generator RMSprop learning rate.", above=0)
    loss: Literal["bce", "least_squares", "wasserstein"] = option(
        "bce", "bce (DCGAN), least_squares (LSGAN) or wasserstein (WGAN: linear critic).")
    conditional: Literal["none", "input", "auxiliary"] = option(
        "none", "none; input: one-hot labels enter both networks (CGAN); auxiliary: the generator gets the label, "
                "the discriminator predicts it with a second head (ACGAN).")
    critic_steps: int = option(1, "Discriminator (critic) updates per generator update (WGAN: 5).", low=1,
                               high=MAX_CRITIC_STEPS)
    clip_value: float | None = option(None, "Clip the critic's weights to [-c, c] after each update (WGAN: 0.01).",
                                      above=0)
    gradient_penalty: float = option(0.0, "WGAN-GP: weight of (|grad D(x_mix)| - 1)^2 at images mixed from real and "
                                          "fake by a uniform(0, 1) share per sample (use with clip_value=none; "
                                          "Gulrajani et al. use 10).", low=0)
    label_smoothing: float = option(0.0, "One-sided label smoothing: the discriminator's target for real images is "
                                         "1 - s instead of 1 (bce and least_squares; Salimans et al. use 0.1).",
                                    low=0, below=1)
    rmsprop_epsilon: Literal["inside", "outside"] = option(
        "inside", "Where both RMSprops add their eps (1e-7): inside the root, lr g / sqrt(a + eps) (Keras 3), or "
                  "outside, lr g / (sqrt(a) + eps) (Keras 2, which the book ran; longer steps for small gradients).")
    generator_average: float = option(0.0, "Decay of an exponential moving average of the generator's weights "
                                           "(e.g. 0.999), updated after every generator step; samples, scores, the "
                                           "final model and exports come from the average. 0: off (the book).",
                                      low=0, below=1)
    precision: Literal["auto", "float32", "bfloat16", "mixed_float16"] = option("auto", PRECISION_HELP)
    sample_every: int = option(5, "Write a fixed-noise sample grid every N epochs (and at the end).", low=1)

    def __post_init__(self):
        if self.label_smoothing and self.loss == "wasserstein":
            raise ConfigError("label_smoothing needs a bce or least_squares loss (a Wasserstein critic has no target)")


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


@dataclass(frozen=True, kw_only=True)
class InfoGANConfig(GANConfig):
    latent_dim: int = option(62, "Size of the incompressible noise z ~ uniform(-1, 1) (the book: 62).")
    discrete_codes: int = option(10, "Classes of the discrete code (one-hot into the generator).", low=2,
                                 high=MAX_WIDTH)
    continuous_codes: int = option(2, "Continuous codes, each drawn from N(0, code_std).", low=0, high=MAX_WIDTH)
    code_std: float = option(0.5, "Standard deviation of the continuous codes (the book: 0.5).", above=0)
    info_weight: float = option(1.0, "Weight of the mutual-information loss in both updates.", above=0)
    continuous_weight: float = option(0.5, "Weight of the continuous codes' MSE within it (the book: 0.5).", low=0)

    def __post_init__(self):
        super().__post_init__()
        if self.conditional != "none" or self.loss == "wasserstein":
            raise ConfigError("infogan uses conditional=none and a bce or least_squares loss")


@dataclass(frozen=True, kw_only=True)
class StackedGANConfig:
    noise_dim: int = option(50, "Size of each stage's noise, z0 and z1 ~ N(0, noise_std) (the book: 50).", low=1,
                            high=MAX_WIDTH)
    feature_dim: int = option(256, "Size of the encoder's intermediate features f1 (the book: 256).", low=1,
                              high=MAX_WIDTH)
    noise_std: float = option(0.5, "Standard deviation of z0 and z1 (the book: 0.5).", above=0)
    batch_size: int = option(64, "Images per step (the encoder's and both GANs').", low=1)
    encoder_steps: int = option(375, "Batches that train the encoder (classifier) before the GANs start; it is "
                                     "frozen afterwards (375: 3 epochs of the offline MNIST split).", low=0)
    encoder_learning_rate: float = option(1e-3, "Encoder Adam learning rate.", above=0)
    d_learning_rate: float = option(2e-4, "Discriminators' RMSprop learning rate.", above=0)
    g_learning_rate: float = option(1e-4, "Generators' RMSprop learning rate.", above=0)
    loss: Literal["bce", "least_squares"] = option("bce", "Adversarial loss: bce (the book) or least_squares.")
    conditional_weight: float = option(1.0, "Weight of the conditional loss: the encoder stage must map a fake back "
                                            "to its input (label or features).", low=0)
    entropy_weight: float = option(10.0, "Weight of the entropy loss: each discriminator must read the noise back "
                                         "from a fake.", low=0)
    adversarial_weight: float = option(1.0, "Weight of the adversarial loss.", above=0)
    precision: Literal["auto", "float32", "bfloat16"] = option("auto", STAGED_PRECISION_HELP)
    sample_every: int = option(5, "Write a fixed-noise sample grid every N epochs (and at the end).", low=1)


@dataclass(frozen=True, kw_only=True)
class CycleGANConfig:
    data_b: str = option("", "Domain B's dataset (the run's --data is domain A), e.g. colored_mnist, svhn, cifar10.")
    resize: bool = option(False, "Resize domain B's images to domain A's size when they differ (else an error).")
    batch_size: int = option(32, "Images of each domain per step (the book: 32).", low=1)
    filters: int = option(32, "Width of the U-Nets' first layer (doubling at each of 3 levels; the book: 32) and half "
                              "the discriminators' first.", low=1, high=MAX_WIDTH // 8)  # the widest: 8 x filters
    d_learning_rate: float = option(2e-4, "Discriminators' Adam learning rate (beta_1 0.5, as in the CycleGAN paper).",
                                    above=0)
    g_learning_rate: float = option(2e-4, "Generators' Adam learning rate (beta_1 0.5).", above=0)
    cycle_weight: float = option(10.0, "Weight of the cycle-consistency loss |F(G(a)) - a| + |G(F(b)) - b|.", low=0)
    identity_weight: float = option(0.0, "Weight of the identity loss |G(b) - b| + |F(a) - a| (domains with equal "
                                         "channels; the CycleGAN paper uses half the cycle weight).", low=0)
    precision: Literal["auto", "float32", "bfloat16"] = option("auto", STAGED_PRECISION_HELP)
    sample_every: int = option(5, "Write a translation grid of held-out images every N epochs (and at the end).",
                               low=1)


def cyclegan_presets(epochs):
    # the book: 100,000 steps of 32 images per domain
    return {
        "mnist": {"description": f"CPU-sized: MNIST <-> colored_mnist, {epochs} epochs ({epochs * 250:,} steps on "
                                 f"the offline MNIST split), U-Nets of 16 to 128 filters.", "run": {"epochs": epochs},
                  "hyperparameters": {"data_b": "colored_mnist", "filters": 16}},
        "cifar10_grey": {"description": "The book's grey -> colour CIFAR-10 task, its 100,000 steps (64 epochs).",
                         "run": {"epochs": 64}, "hyperparameters": {"data_b": "cifar10"}},
        "book": {"description": "The book's MNIST <-> SVHN task (SVHN resized to 28x28), its 100,000 steps on the "
                                "full MNIST training set (53 epochs).", "data": "mnist", "run": {"epochs": 53},
                 "hyperparameters": {"data_b": "svhn", "resize": True}},
    }


def presets(epochs, critic_steps=1, book_steps=40_000, note="", book_note="", book_hyperparameters=None, run=None,
            **hyperparameters):
    # a generator step takes critic_steps batches of 64: 125 of them per epoch of the 8,000 offline
    # MNIST images, 938 per epoch of the full training set
    steps, book_epochs = epochs * 125 // critic_steps, round(book_steps * critic_steps / 938)
    return {
        "mnist": {"description": f"CPU-sized: {epochs} epochs ({steps:,} generator steps on the offline MNIST "
                                 f"split){note}.", "run": {"epochs": epochs, **(run or {})},
                  "hyperparameters": hyperparameters},
        "book": {"description": f"The book's {book_steps:,} generator steps on the full MNIST training set "
                                f"({book_epochs} epochs){book_note}.", "data": "mnist", "run": {"epochs": book_epochs},
                 "hyperparameters": book_hyperparameters or {}},
    }


# weight clipping at the book's 5e-5 needs the book's 40,000 steps (Frechet distance 252 after 2,000
# here, 59 with the gradient penalty): the CPU preset trains WGAN-GP
WGAN_GP = dict(note=" as WGAN-GP: gradient_penalty=10, no clipping, learning rates 1e-4", gradient_penalty=10.0,
               clip_value=None, d_learning_rate=1e-4, g_learning_rate=1e-4)

# dcgan and lsgan on the CPU budget (benchmarks/generative_quality.py has the ablation; seed 0: dcgan
# 105.6 -> 58.8, lsgan 91.2 -> 65.3):
# the generator's weight average, Keras 2's RMSprop as the book ran it, the epoch with the best
# held-out distance, and the generator's learning rate raised to the discriminator's 2e-4 (at the
# book's 1e-4 the discriminator pulls ahead: the distance is best near epoch 18, worse by epoch 30)
STEADY = dict(note=", the generator's weight average (0.999), Keras 2's RMSprop (eps outside the root), both "
                   "learning rates 2e-4 and the epoch with the best held-out Frechet distance", generator_average=0.999,
              rmsprop_epsilon="outside", g_learning_rate=2e-4, run={"keep_best": "frechet_distance"})

MODELS = (
    ("dcgan", "DCGAN: transposed-convolution generator, LeakyReLU discriminator (chapter 4).", GANConfig, 30,
     STEADY),
    ("lsgan", "Least-squares GAN: the DCGAN networks, a linear discriminator and MSE loss (chapter 5).",
     LSGANConfig, 30, STEADY),
    ("cgan", "Conditional GAN: one-hot labels enter generator and discriminator (chapter 4).", CGANConfig, 30, {}),
    ("acgan", "Auxiliary-classifier GAN: the discriminator also predicts the label (chapter 5).", ACGANConfig, 30,
     {}),
    ("wgan", "Wasserstein GAN: linear critic, 5 critic steps per generator step, weight clipping (chapter 5).",
     WGANConfig, 80, WGAN_GP),
    ("infogan", "InfoGAN: a discrete and 2 continuous latent codes recovered by a recognition head, "
                "unsupervised (chapter 6).", InfoGANConfig, 60, {}),
    # the book: the encoder 10 epochs, then 10,000 steps of both GANs
    ("stackedgan", "StackedGAN: two GANs invert a classifier's two stages, label -> features -> image (chapter 6).",
     StackedGANConfig, 30, dict(book_steps=19_380, note=", the first 375 train the encoder",
                                book_note=", the first 9,380 (10 epochs) train the encoder",
                                book_hyperparameters={"encoder_steps": 9380})),
)


FACTORIES = {"infogan": "advdl_plugins.gan.infogan:InfoGAN", "stackedgan": "advdl_plugins.gan.stackedgan:StackedGAN"}


@hookimpl
def advdl_register_algorithms(register):
    for name, summary, config, epochs, preset_settings in MODELS:
        if hasattr(config(), "rmsprop_epsilon"):  # the book ran Keras 2's RMSprop
            preset_settings = preset_settings | {"book_hyperparameters": {"rmsprop_epsilon": "outside"},
                                                 "book_note": ", Keras 2's RMSprop (eps outside the root)"}
        register(AlgorithmSpec(name=name, family="generative", summary=summary, config=config,
                               factory=FACTORIES.get(name, "advdl_plugins.gan.gan:GAN"),
                               presets=presets(epochs, getattr(config(), "critic_steps", 1), **preset_settings),
                               paper="https://arxiv.org/abs/1406.2661"))
    register(AlgorithmSpec(name="cyclegan", family="generative", config=CycleGANConfig,
                           summary="CycleGAN: unpaired translation between two image domains, --data A --data-b B "
                                   "(chapter 7).", factory="advdl_plugins.gan.cyclegan:CycleGAN",
                           presets=cyclegan_presets(20), paper="https://arxiv.org/abs/1703.10593"))
