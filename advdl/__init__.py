"""advdl: the algorithms of "Advanced Deep Learning with Keras" as pluggy plugins.

Importing this package is cheap (no TensorFlow, no numpy). Plugins import from ``advdl.api``, the
plugin API; the names here are kept for plugins written before it.
"""

from advdl.api import (
    AdvdlError,
    AlgorithmSpec,
    CheckpointError,
    ConfigError,
    DataError,
    DatasetSpec,
    EnvSpaceError,
    EnvSpec,
    PluginError,
    hookimpl,
    option,
)

__version__ = "0.1.0"

__all__ = [
    "AdvdlError", "Agent", "AlgorithmSpec", "CheckpointError", "ConfigError", "DataError", "DatasetSpec", "EnvSpaceError",
    "EnvSpec", "Model", "PluginError", "hookimpl", "option", "__version__",
]


def __getattr__(name):  # Agent and Model pull in numpy: import them on first use
    if name in ("Agent", "Model"):
        import advdl.api

        return getattr(advdl.api, name)
    raise AttributeError(name)
