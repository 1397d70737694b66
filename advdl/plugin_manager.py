"""Find and load plugins from the ``advdl`` entry-point group, one failure at a time.

pluggy's ``load_setuptools_entrypoints`` stops at the first plugin that fails to import; here a
failing plugin becomes an entry in ``Registry.errors`` and the rest keep working.

Switches (environment variables, comma separated):
- ``ADVDL_PLUGINS``: load only the plugins of these distributions (e.g. ``advdl,my-algos``).
- ``ADVDL_BLOCK_PLUGINS``: never load these plugins (entry-point names, e.g. ``dqn``).
- ``ADVDL_TRACE_HOOKS=1``: print every hook call to stderr.
- ``ADVDL_STRICT_PLUGINS=1``: raise on the first broken plugin instead of listing it.
"""

import functools
import os
import sys
from importlib.metadata import entry_points

import pluggy

from . import hookspecs
from .errors import PluginError
from .registry import Registry

GROUP = "advdl"


def _names(variable):
    return {n.strip() for n in os.environ.get(variable, "").split(",") if n.strip()}


def build_plugin_manager(extra_plugins=()):
    """A fresh PluginManager with every allowed entry-point plugin loaded, and its load errors.

    ``extra_plugins`` (objects or modules) are registered too, which is how tests add a plugin
    without installing a distribution.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    only, blocked = _names("ADVDL_PLUGINS"), _names("ADVDL_BLOCK_PLUGINS")
    strict = os.environ.get("ADVDL_STRICT_PLUGINS") == "1"
    errors, owners = [], {}
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        dist = ep.dist.name if ep.dist else ""
        version = ep.dist.version if ep.dist else ""
        if ep.name in blocked or (only and dist not in only):
            continue
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:
            if strict:
                raise PluginError(f"plugin '{ep.name}' ({dist}) failed to load: {exc}") from exc
            errors.append({"plugin": ep.name, "distribution": dist,
                           "error": f"failed to load: {type(exc).__name__}: {exc}"})
            continue
        owners[ep.name] = (ep.name, dist, version)
    for plugin in extra_plugins:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        pm.register(plugin, name=name)
        owners[name] = (name, "", "")
    if os.environ.get("ADVDL_TRACE_HOOKS") == "1":
        pm.trace.root.setwriter(sys.stderr.write)
        pm.enable_tracing()
    return pm, owners, errors


def _call_each(pm, hook_name, owners, registry, make_register):
    """Call one register hook plugin by plugin, so one plugin's exception spares the rest."""
    strict = os.environ.get("ADVDL_STRICT_PLUGINS") == "1"
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        owner = owners.get(impl.plugin_name, (impl.plugin_name, "", ""))
        try:
            impl.function(register=make_register(owner))
        except Exception as exc:
            if strict:
                raise
            registry.add_error(owner[0], owner[1],
                               f"{hook_name} failed: {type(exc).__name__}: {exc}")


@functools.lru_cache(maxsize=1)
def get_registry():
    """The registry of everything the installed plugins provide (built once per process)."""
    return build_registry()


def build_registry(extra_plugins=()):
    pm, owners, errors = build_plugin_manager(extra_plugins)
    registry = Registry()
    registry.plugin_manager = pm
    registry.errors.extend(errors)
    _call_each(pm, "advdl_register_algorithms", owners, registry,
               lambda owner: functools.partial(registry.register_algorithm, owner=owner))
    _call_each(pm, "advdl_register_envs", owners, registry,
               lambda owner: functools.partial(registry.register_env, owner=owner))
    return registry

