"""The run settings of dataset runs (the ``supervised`` and ``generative`` families)."""

import typing
from dataclasses import dataclass

from advdl.api.errors import ConfigError
from advdl.api.options import option
from advdl.settings.values import MAX_SEED

MAX_EPOCHS = 2**31 - 1  # so that epochs x batches per epoch (fewer than 2**32) fit in 64 bits
MAX_REPLICAS = 256  # GPUs of one machine (a DGX has 8 or 16); without GPUs, logical CPU devices to test with


@dataclass(frozen=True, kw_only=True)
class DataRunConfig:
    """Settings of a run on a dataset (supervised and generative models)."""

    data: str = option("", "Dataset name (advdl list shows them), e.g. mnist.")
    data_dir: str = option("", "Offline directory with the dataset's files, read before keras.datasets "
                               "(default: the ADVDL_DATA_DIR environment variable).")
    epochs: int = option(10, "Passes over the training images.", low=1, high=MAX_EPOCHS)
    seed: int = option(0, "Seed for the weights, the batch order, dropout and augmentation.", low=0, high=MAX_SEED)
    log_interval: int = option(50, "Write a metrics.csv row and TensorBoard scalars every N batches.", low=1)
    checkpoint_interval: int = option(0, "Also write a checkpoint every N batches inside an epoch (0: at epoch "
                                         "ends only); a killed run resumes from the last one.", low=0)
    on_nan: typing.Literal["stop", "continue"] = option(
        "stop", "When a training metric (a loss) becomes NaN or infinite: stop, keeping the last good checkpoint, "
                "or continue.")
    deterministic: bool = option(False, "Strict determinism: besides TensorFlow's deterministic ops (always on), "
                                        "oneDNN's custom CPU kernels off and one thread for TensorFlow's ops; slower.")
    strategy: typing.Literal["default", "mirrored", "multiworker"] = option(
        "default", "tf.distribute strategy: default (one device), mirrored (the GPUs of this machine, or the CPU "
                   "split into --replicas devices), multiworker (the workers TF_CONFIG names).")
    device_data: typing.Literal["auto", "on", "off"] = option(
        "auto", "Keep the training images on the device and gather each batch there (no host-to-device copy of the "
                "images per step): auto does so on a GPU when they fit in a quarter of its memory and the model "
                "takes tensor batches; on forces it (also on a CPU); off copies each batch from numpy.")
    replicas: int = option(0, "mirrored: replicas (0: one per GPU, or 1 without GPUs; without GPUs the CPU is "
                              "split into this many logical devices).", low=0, high=MAX_REPLICAS)

    def __post_init__(self):
        if self.replicas and self.strategy != "mirrored":
            raise ConfigError(f"replicas applies to --strategy mirrored, not {self.strategy}")

    @classmethod
    def missing_target(cls, spec):
        return "no dataset given: use --data NAME (for example --data mnist; `advdl list` shows them)"


@dataclass(frozen=True, kw_only=True)
class GenerativeRunConfig(DataRunConfig):
    """Settings of a generative model's run: a dataset run that is scored while it trains."""

    scorer: str = option("cnn", "The classifier (a supervised algorithm) trained once per dataset whose features "
                                "and class probabilities score the generated images.")
    keep_best: typing.Literal["none", "frechet_distance", "label_accuracy", "code_accuracy"] = option(
        "none", "End with the weights of the epoch whose score on a held-out split of the training images (10%, at "
                "least 1,000, not trained on) was best: frechet_distance (lowest), label_accuracy or code_accuracy "
                "(highest); the final scores are then on the test split. none: the last epoch's weights, scored on "
                "the test split every epoch.")
