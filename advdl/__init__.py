"""advdl: the algorithms of "Advanced Deep Learning with Keras" as pluggy plugins.

Importing this package is cheap (no TensorFlow, no numpy): plugins import it to register.
"""

from .config import option
from .errors import AdvdlError, CheckpointError, ConfigError, DataError, EnvSpaceError, PluginError
from .hookspecs import hookimpl
from .registry import AlgorithmSpec, DatasetSpec, EnvSpec

__version__ = "0.1.0"

__all__ = [
    "AdvdlError", "Agent", "AlgorithmSpec", "CheckpointError", "ConfigError", "DataError", "DatasetSpec", "EnvSpaceError",
    "EnvSpec", "Model", "PluginError", "hookimpl", "option", "__version__",
]


def __getattr__(name):  # Agent and Model pull in numpy: import them on first use
    if name in ("Agent", "Model"):
        from . import interfaces

        return getattr(interfaces, name)
    raise AttributeError(name)
