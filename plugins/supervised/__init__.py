"""The supervised family (the book's chapters 1 and 2): image classifiers trained on a dataset.
Cheap to import: configs, presets and the registering hook."""

from dataclasses import dataclass
from typing import Literal

from advdl.api import MAX_DEPTH, MAX_WIDTH, AlgorithmSpec, ConfigError, hookimpl, option

# the integer settings of the networks: sizes (hidden_sizes, filters, units, growth_rate) in 1..MAX_WIDTH, counts
# (conv_layers, kernel_size, dilation_rate) at least 1; the image size bounds the counts (check_image_shape)


@dataclass(frozen=True, kw_only=True)
class ClassifierConfig:
    batch_size: int = option(128, "Images per gradient step.", low=1)
    optimizer: Literal["adam", "sgd", "rmsprop"] = option("adam", "adam, sgd (momentum 0.9) or rmsprop.")
    learning_rate: float = option(1e-3, "Learning rate (the first one, with lr_schedule=book).", above=0)
    lr_schedule: Literal["constant", "book"] = option(
        "constant", "book: the book's ResNet/DenseNet steps (x0.1 after 80 epochs, x0.01 after 120, x0.001 after "
                    "160, x0.0005 after 180).")
    augment_shift: float = option(0.0, "Random shifts of training images by up to this fraction of their size "
                                       "(0: none; the book's CIFAR-10 augmentation uses 0.1).", low=0, below=0.5)
    augment_flip: bool = option(False, "Random horizontal flips of training images (CIFAR-10; not for digits).")
    precision: Literal["auto", "float32", "bfloat16", "mixed_float16"] = option(
        "auto", "bfloat16: Keras mixed_bfloat16 (float32 weights and softmax); mixed_float16: float16 arithmetic "
                "with loss scaling; auto: bfloat16 on GPUs of compute capability 8.0+, mixed_float16 on 7.x, "
                "float32 on older GPUs and on every CPU (advdl system shows the choice).")


@dataclass(frozen=True, kw_only=True)
class MLPConfig(ClassifierConfig):
    hidden_sizes: tuple[int, ...] = option((256, 256), "ReLU layers on the flattened image.", low=1, high=MAX_WIDTH)
    dropout: float = option(0.45, "Dropout after every hidden layer.", low=0, below=1)

    def __post_init__(self):
        if not self.hidden_sizes:
            raise ConfigError("hidden_sizes must name at least one layer")


@dataclass(frozen=True, kw_only=True)
class CNNConfig(ClassifierConfig):
    filters: int = option(64, "Filters of every convolution.", low=1, high=MAX_WIDTH)
    conv_layers: int = option(3, "Convolutions (ReLU, kernel_size); max pooling 2 between them.", low=1)
    kernel_size: int = option(3, "Convolution kernel size.", low=1)
    dropout: float = option(0.2, "Dropout before the softmax layer.", low=0, below=1)


@dataclass(frozen=True, kw_only=True)
class RNNConfig(ClassifierConfig):
    units: int = option(256, "Units of the recurrent layer, which reads the image row by row.", low=1, high=MAX_WIDTH)
    cell: Literal["simple", "lstm", "gru"] = option("simple", "SimpleRNN (the book), LSTM or GRU.")
    dropout: float = option(0.2, "Dropout of the recurrent layer's inputs.", low=0, below=1)


@dataclass(frozen=True, kw_only=True)
class YNetConfig(ClassifierConfig):
    filters: int = option(32, "Filters of each branch's first convolution (doubled at every layer).", low=1,
                          high=MAX_WIDTH)
    conv_layers: int = option(3, "Convolution + dropout + max-pooling blocks per branch.", low=1)
    dilation_rate: int = option(2, "Dilation of the right branch's convolutions.", low=1)
    dropout: float = option(0.4, "Dropout after every convolution and before the softmax layer.", low=0, below=1)


@dataclass(frozen=True, kw_only=True)
class ResNetConfig(ClassifierConfig):
    version: Literal[1, 2] = option(1, "ResNet v1 (He et al. 2015) or v2 (pre-activation, 2016).")
    depth: int = option(20, "Layers: 6n+2 for v1 (20, 32, 44, 56, 110), 9n+2 for v2 (20, 56, 110).", high=MAX_DEPTH)
    batch_size: int = option(32, "Images per gradient step.")
    lr_schedule: Literal["constant", "book"] = option("book", "book: x0.1 after 80 epochs, x0.01 after 120, ...")
    augment_shift: float = option(0.1, "Random shifts of training images by up to this fraction of their size.")
    augment_flip: bool = option(True, "Random horizontal flips of training images.")

    def __post_init__(self):
        step = 6 if self.version == 1 else 9
        if self.depth < step + 2 or (self.depth - 2) % step:
            raise ConfigError(f"depth {self.depth} does not fit ResNet v{self.version}: it must be {step}n+2 "
                              f"({', '.join(str(step * n + 2) for n in (2, 3, 5, 6))}, ...)")


@dataclass(frozen=True, kw_only=True)
class DenseNetConfig(ClassifierConfig):
    depth: int = option(100, "Layers (3 dense blocks of (depth-4)/6 bottleneck layers).", high=MAX_DEPTH)
    growth_rate: int = option(12, "Feature maps each bottleneck layer adds (k).", low=1, high=MAX_WIDTH)
    compression: float = option(0.5, "Transition layers keep this fraction of the feature maps.", above=0, high=1)
    dropout: float = option(0.2, "Dropout after each bottleneck layer's convolutions.", low=0, below=1)
    batch_size: int = option(64, "Images per gradient step.")
    optimizer: Literal["adam", "sgd", "rmsprop"] = option("rmsprop", "adam, sgd (momentum 0.9) or rmsprop (book).")
    lr_schedule: Literal["constant", "book"] = option("book", "book: x0.1 after 80 epochs, x0.01 after 120, ...")
    augment_shift: float = option(0.1, "Random shifts of training images by up to this fraction of their size.")
    augment_flip: bool = option(True, "Random horizontal flips of training images.")

    def __post_init__(self):
        if self.depth < 10 or (self.depth - 4) % 6:
            raise ConfigError(f"depth must be 6n+4 (e.g. 40, 100, 190), got {self.depth}")


def check_image_shape(c, shape):
    """Settings a network cannot have on images of ``shape``, found before anything is built."""
    kind, (h, w), side = type(c).__name__, shape[:2], min(shape[:2])
    if kind == "CNNConfig":
        size = side
        for i in range(c.conv_layers):  # valid convolutions, max pooling 2 between them
            size = size - (c.kernel_size - 1) if i == 0 else size // 2 - (c.kernel_size - 1)
            if size < 1:
                raise ConfigError(f"conv_layers {c.conv_layers} of kernel_size {c.kernel_size} shrink {h}x{w} images "
                                  f"to nothing at convolution {i + 1}; use fewer or smaller convolutions")
    if kind == "YNetConfig":
        if side >> c.conv_layers < 1:  # each block halves the images
            raise ConfigError(f"conv_layers must be at most {side.bit_length() - 1} for {h}x{w} images (each block "
                              f"halves them), got {c.conv_layers}")
        if c.filters << (c.conv_layers - 1) > MAX_WIDTH:
            raise ConfigError(f"filters {c.filters} doubled over {c.conv_layers} conv_layers exceed {MAX_WIDTH:,}")
        if c.dilation_rate > side:
            raise ConfigError(f"dilation_rate must be at most the image size ({side}), got {c.dilation_rate}")


def mnist_preset(description, epochs, **hyperparameters):
    return {"description": description, "run": {"epochs": epochs}, "hyperparameters": hyperparameters}


CIFAR_BOOK = {"description": "The book's CIFAR-10 run: 200 epochs (for a GPU).", "data": "cifar10",
              "run": {"epochs": 200}}

MODELS = (
    ("mlp", "Multilayer perceptron: 256-256 ReLU, dropout 0.45 (the book's chapter 1).", MLPConfig,
     {"mnist": mnist_preset("MNIST: 40 epochs.", 40)}, ""),
    ("cnn", "Convolutional network: 3 convolutions of 64 filters, kernel 3, dropout 0.2 (chapter 1).", CNNConfig,
     {"mnist": mnist_preset("MNIST: 20 epochs with shifts of up to 10%.", 20, augment_shift=0.1)}, ""),
    ("rnn", "Recurrent network over image rows: SimpleRNN 256 (LSTM, GRU as options) (chapter 1).", RNNConfig,
     {"mnist": mnist_preset("MNIST: 20 epochs.", 20)}, ""),
    ("ynet", "Y-network: two convolutional branches, the second dilated, joined (chapter 2).", YNetConfig,
     {"mnist": mnist_preset("MNIST: 20 epochs with shifts of up to 10%.", 20, augment_shift=0.1)}, ""),
    ("resnet", "ResNet v1 / v2 for CIFAR-10, depth 20 to 110 (chapter 2).", ResNetConfig,
     {"book": CIFAR_BOOK}, "https://arxiv.org/abs/1512.03385"),
    ("densenet", "DenseNet-BC: depth 100, growth rate 12, compression 0.5 (chapter 2).", DenseNetConfig,
     {"book": CIFAR_BOOK}, "https://arxiv.org/abs/1608.06993"),
)


@hookimpl
def advdl_register_algorithms(register):
    for name, summary, config, presets, paper in MODELS:
        register(AlgorithmSpec(name=name, family="supervised", summary=summary, config=config,
                               factory="advdl_plugins.supervised.classifier:Classifier", presets=presets,
                               paper=paper))
