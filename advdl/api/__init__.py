"""The plugin API: everything a plugin imports, from one place (``from advdl.api import ...``).

The README's "Writing a plugin" section is its reference. Importing this package is cheap (no
numpy, no TensorFlow): a plugin's registration module imports it. The names that need numpy
(the interfaces, batches, datasets, plots and scores) are imported on first use.
"""

from advdl.api.backend import import_tensorflow, load_weights, replica_gradients, rmsprop
from advdl.api.callbacks import Callback
from advdl.api.errors import AdvdlError, CheckpointError, ConfigError, DataError, EnvSpaceError, PluginError
from advdl.api.family import FamilySpec
from advdl.api.hookspecs import hookimpl
from advdl.api.memory import check_fits, check_networks, mlp_parameters
from advdl.api.options import MAX_DEPTH, MAX_WIDTH, check_between, flat_settings, option
from advdl.api.specs import AlgorithmSpec, Baseline, DatasetSpec, EnvSpec

_LAZY = {  # name -> the module of advdl.api that defines it (each imports numpy)
    **dict.fromkeys(("Agent", "Model", "DataInfo", "Transition", "ReplayBatch", "RolloutBatch", "EpisodeBatch",
                     "ReplaySchedule", "RolloutSchedule"), "interfaces"),
    **dict.fromkeys(("Dataset", "LUMINANCE", "grey", "resize_images"), "data"),
    **dict.fromkeys(("as_rgb", "confusion_matrix", "image_grid", "latent_scatter", "line_plot"), "plots"),
    **dict.fromkeys(("code_agreement", "score"), "scoring"),
    **dict.fromkeys(("ExportPart", "argmax", "class_input", "float32_copy"), "export"),
    **dict.fromkeys(("PRECISIONS", "resolve_precision", "optimizer_for", "jit_compile", "use_bfloat16", "policy_scope",
                     "float32_outputs"), "devices"),
    **dict.fromkeys(("ObservationEncoder", "flat_space", "is_image_space", "torso_layers", "torso_parameters"),
                    "observations"),
}

__all__ = [
    # registering
    "hookimpl", "AlgorithmSpec", "EnvSpec", "DatasetSpec", "FamilySpec", "Baseline", "option", "check_between",
    "flat_settings",
    "MAX_WIDTH", "MAX_DEPTH",
    # errors
    "AdvdlError", "ConfigError", "DataError", "EnvSpaceError", "PluginError", "CheckpointError",
    # implementing
    "Agent", "Model", "DataInfo", "Transition", "ReplayBatch", "RolloutBatch", "EpisodeBatch", "ReplaySchedule",
    "RolloutSchedule", "Callback", "ObservationEncoder", "flat_space", "is_image_space", "torso_layers",
    "torso_parameters", "ExportPart", "argmax", "class_input", "float32_copy",
    # datasets
    "Dataset", "LUMINANCE", "grey", "resize_images",
    # TensorFlow and memory
    "import_tensorflow", "replica_gradients", "load_weights", "rmsprop", "use_bfloat16", "PRECISIONS", "resolve_precision",
    "optimizer_for", "jit_compile", "policy_scope", "float32_outputs", "check_fits", "check_networks",
    "mlp_parameters",
    # figures and scores
    "as_rgb", "confusion_matrix", "image_grid", "latent_scatter", "line_plot", "code_agreement", "score",
]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'advdl.api' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"advdl.api.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
