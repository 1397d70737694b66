"""Imports a plugin abandoned (it took longer than ADVDL_PLUGIN_TIMEOUT): importing their modules again
would wait on their import lock, perhaps forever."""

import sys

STUCK = {}  # module name -> the abandoned thread still importing it


def importing():
    """The names of the modules half-imported right now, by any thread."""
    names = set()
    for name, module in dict(sys.modules).items():
        try:  # not getattr: a lazy module would import itself on attribute access
            spec = object.__getattribute__(module, "__dict__").get("__spec__")
            if getattr(spec, "_initializing", False):
                names.add(name)
        except Exception:  # noqa: BLE001 - not a module
            continue
    return names


def stuck_import(module_name):
    """The module (``module_name`` or a package above it) that an abandoned plugin import still holds,
    or None: importing ``module_name`` now would wait on that import's lock, perhaps forever."""
    parts = module_name.split(".")
    for prefix in (".".join(parts[:i]) for i in range(1, len(parts) + 1)):
        thread = STUCK.get(prefix)
        if thread is not None and thread.is_alive():
            return prefix
        STUCK.pop(prefix, None)
    return None
