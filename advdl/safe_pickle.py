"""Unpickling environment snapshots without running code from the file.

A resumed run continues its environments mid-episode, RNG included, and only pickle can capture
an arbitrary Gymnasium environment. A pickle can name any importable callable and call it, so a
planted checkpoint could run code on ``--resume``. This loader resolves only:

- classes from Gymnasium and the environment's own package (its entry point's top-level package),
  numpy's array, dtype, scalar and random-generator classes: constructing those is what restoring
  an environment takes;
- a few builtin and collections types (set, deque, OrderedDict...), and numpy's and copyreg's
  reconstruction helpers.

Anything else (``os.system``, ``builtins.eval``, any function of an allowed package that could
return other callables) is refused with an ``UnsafePickleError``.
"""

import io
import pickle

SAFE_MODULES = ("gymnasium", "numpy")
SAFE_GLOBALS = {
    ("builtins", name) for name in ("object", "set", "frozenset", "complex", "slice", "range", "bytearray",
                                    "list", "dict", "tuple", "int", "float", "bool", "str", "bytes")
} | {
    ("collections", "OrderedDict"), ("collections", "deque"), ("collections", "defaultdict"),
    ("copyreg", "_reconstructor"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.random._pickle", "__bit_generator_ctor"), ("numpy.random._pickle", "__generator_ctor"),
    ("numpy.random._pickle", "__randomstate_ctor"),
}


class UnsafePickleError(pickle.UnpicklingError):
    pass


class _Unpickler(pickle.Unpickler):
    def __init__(self, data, packages):
        super().__init__(io.BytesIO(data))
        self.packages = tuple(SAFE_MODULES) + tuple(packages)

    def find_class(self, module, name):
        if (module, name) in SAFE_GLOBALS or (module.startswith("numpy.random") and name.startswith("__pyx_unpickle_")):
            return super().find_class(module, name)  # Cython's generated unpicklers of numpy's RNG classes
        top = module.split(".")[0]
        if top == "numpy" and not module.startswith(("numpy.random", "numpy.dtypes")) and module != "numpy":
            raise UnsafePickleError(f"refused to load {module}.{name}")  # e.g. numpy.memmap would write files
        if top in self.packages:
            found = super().find_class(module, name)
            if isinstance(found, type) and (top != "numpy" or module != "numpy" or _numpy_value_type(found)):
                return found
        raise UnsafePickleError(f"refused to load {module}.{name}")


def _numpy_value_type(cls):
    import numpy as np

    return issubclass(cls, (np.generic, np.dtype)) or cls is np.ndarray


def loads(data, packages=()):
    """``pickle.loads`` limited to the classes above (and those of ``packages``, top-level names)."""
    return _Unpickler(data, packages).load()


def env_packages(env_id):
    """The top-level package of a registered environment's entry point (besides gymnasium)."""
    import gymnasium as gym

    try:
        entry = gym.spec(env_id).entry_point
    except Exception:
        return ()
    module = entry.split(":")[0] if isinstance(entry, str) else getattr(entry, "__module__", "")
    return (module.split(".")[0],) if module else ()
