"""advdl: the algorithms of "Advanced Deep Learning with Keras" as pluggy plugins.

Importing this package is cheap (no TensorFlow, no numpy): plugins import it to register.
"""

from advdl.api.errors import AdvdlError, CheckpointError, ConfigError, DataError, EnvSpaceError, PluginError
from advdl.api.hookspecs import hookimpl
from advdl.loading.registry import AlgorithmSpec, DatasetSpec, EnvSpec
from advdl.settings.config import option

__version__ = "0.1.0"

__all__ = [
    "AdvdlError", "Agent", "AlgorithmSpec", "CheckpointError", "ConfigError", "DataError", "DatasetSpec", "EnvSpaceError",
    "EnvSpec", "Model", "PluginError", "hookimpl", "option", "__version__",
]


def __getattr__(name):  # Agent and Model pull in numpy: import them on first use
    if name in ("Agent", "Model"):
        from advdl.api import interfaces

        return getattr(interfaces, name)
    raise AttributeError(name)
