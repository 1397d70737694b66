"""Find and load plugins from the ``advdl`` entry-point group, one failure at a time.

pluggy's ``load_setuptools_entrypoints`` stops at the first plugin that fails to import; here a
failing plugin becomes an entry in ``Registry.errors`` and the rest keep working. Whatever a
plugin raises while it is imported or registers (SystemExit and KeyboardInterrupt too) is its
error, and each import is bounded in time: a plugin still importing after ``ADVDL_PLUGIN_TIMEOUT``
seconds is skipped (a broken plugin, and a warning on stderr), its import abandoned in a daemon
thread whose result is never registered.

Switches (environment variables, comma separated):
- ``ADVDL_PLUGINS``: load only the plugins of these distributions (e.g. ``advdl,my-algos``).
- ``ADVDL_BLOCK_PLUGINS``: never load these plugins (entry-point names, e.g. ``dqn``).
- ``ADVDL_TRACE_HOOKS=1``: print every hook call to stderr.
- ``ADVDL_STRICT_PLUGINS=1``: fail on the first broken plugin instead of listing it.
- ``ADVDL_PLUGIN_TIMEOUT=SECONDS``: how long one plugin may take to import (default 10).
"""

import functools
import math
import os
import re
import sys
import threading
from importlib.metadata import entry_points

import pluggy

from advdl.api import hookspecs
from advdl.api.errors import PluginError
from advdl.loading import imports
from advdl.loading.registry import Registry

GROUP = "advdl"
HOOK_NAMES = {name for name in dir(hookspecs) if name.startswith("advdl_")}
DEFAULT_TIMEOUT = 10.0


def _normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _names(variable, normalize=False):
    names = {n.strip() for n in os.environ.get(variable, "").split(",") if n.strip()}
    return {_normalize(n) for n in names} if normalize else names


def _strict():
    return os.environ.get("ADVDL_STRICT_PLUGINS") == "1"


def _warn(message):
    print(f"advdl: warning: {message}", file=sys.stderr, flush=True)


def _timeout():
    """ADVDL_PLUGIN_TIMEOUT in seconds; a bad value gives the default and a one-line warning."""
    raw = os.environ.get("ADVDL_PLUGIN_TIMEOUT", "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if math.isfinite(value) and value > 0:
        return value
    _warn(f"ADVDL_PLUGIN_TIMEOUT={raw!r} is not a positive number of seconds; using {DEFAULT_TIMEOUT:g}")
    return DEFAULT_TIMEOUT


def _describe(exc):
    """``Type: message``; ``SystemExit(7)`` for what is not an Exception."""
    return f"{type(exc).__name__}: {exc}" if isinstance(exc, Exception) else repr(exc)


def _load(ep, timeout):
    """``(plugin, None)``, or ``(None, (message, exception or None))``: ``ep.load()`` in a daemon thread.

    Whatever the import raises is the plugin's error, never raised here (a real Ctrl-C still reaches
    the main thread, which only waits). An import still running after ``timeout`` seconds is
    abandoned: the thread runs on, its result is dropped, and the modules it holds half-imported
    are remembered, so that no later import here waits on their locks.
    """
    hint = f"skipped; ADVDL_BLOCK_PLUGINS={ep.name} skips it without waiting"
    held = imports.stuck_import(ep.module)
    if held:
        return None, (f"its module {held} is still importing (a plugin import abandoned earlier): {hint}", None)
    outcome = {}

    def target():
        try:
            outcome["plugin"] = ep.load()
        except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt: the plugin's own
            outcome["error"] = exc

    before = imports.importing()
    thread = threading.Thread(target=target, name=f"advdl-plugin-{ep.name}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        for module in (imports.importing() - before) | {ep.module}:
            imports.STUCK[module] = thread
        return None, (f"took more than {timeout:g} s to import: {hint}", None)
    if "error" in outcome:
        exc = outcome["error"]
        suffix = "" if isinstance(exc, Exception) else " at import"
        return None, (f"failed to load: {_describe(exc)}{suffix}", exc)
    return outcome["plugin"], None


def build_plugin_manager(extra_plugins=()):
    """A fresh PluginManager with every allowed entry-point plugin loaded, and its load errors.

    Returns ``(pm, owners, errors)``; ``owners`` maps a pluggy plugin name to
    ``(entry-point name, distribution, version)``. ``extra_plugins`` (objects or modules) are
    registered too, which is how tests add a plugin without installing a distribution.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    only, blocked = _names("ADVDL_PLUGINS", normalize=True), _names("ADVDL_BLOCK_PLUGINS")
    errors, owners, seen = [], {}, set()
    timeout = _timeout()
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        dist = ep.dist.name if ep.dist else ""
        version = ep.dist.version if ep.dist else ""
        if ep.name in blocked or (only and _normalize(dist) not in only):
            continue
        if (dist, ep.name, ep.value) in seen:  # one distribution found twice on sys.path
            continue
        seen.add((dist, ep.name, ep.value))
        # two distributions may use one entry-point name: both load, under distinct pluggy names
        name = ep.name if pm.get_plugin(ep.name) is None else f"{ep.name}@{dist}"
        plugin, failure = _load(ep, timeout)
        if failure is None:
            try:
                pm.register(plugin, name=name)
            except BaseException as exc:  # noqa: BLE001 - a plugin object's attributes run its code
                failure = (f"failed to load: {_describe(exc)}", exc)
        if failure is not None:
            message, exc = failure
            if _strict():
                raise PluginError(f"plugin '{ep.name}' ({dist}) {message}") from exc
            if exc is None:  # a timeout: say so now, `advdl run` lists no broken plugins
                _warn(f"plugin '{ep.name}' ({f'{dist} {version}'.strip() or 'no distribution'}) {message}")
            errors.append({"plugin": ep.name, "distribution": dist, "error": message})
            continue
        owners[name] = (ep.name, dist, version)
        errors += _unknown_hooks(plugin, ep.name, dist)
    from advdl import __version__
    from advdl.loading import families

    pm.register(families, name="advdl.families")  # always: not an entry point a switch could leave out
    owners["advdl.families"] = ("advdl.families", "advdl", __version__)
    for plugin in extra_plugins:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        pm.register(plugin, name=name)
        owners[name] = (name, "", "")
        errors += _unknown_hooks(plugin, name, "")
    if os.environ.get("ADVDL_TRACE_HOOKS") == "1":
        pm.trace.root.setwriter(sys.stderr.write)
        pm.enable_tracing()
    return pm, owners, errors


def _unknown_hooks(plugin, name, dist):
    """A misspelled hook would be ignored silently: report it."""
    found = []
    for attr in dir(plugin):
        if attr.startswith("advdl_") and attr not in HOOK_NAMES and callable(getattr(plugin, attr, None)):
            found.append({"plugin": name, "distribution": dist,
                          "error": f"defines unknown hook {attr} (hooks: {', '.join(sorted(HOOK_NAMES))})"})
    return found


def _call_each(pm, hook_name, owners, registry, make_register):
    """Call one register hook plugin by plugin, so one plugin's exception spares the rest."""
    hook_impls = getattr(pm.hook, hook_name).get_hookimpls()
    for impl in hook_impls:
        owner = owners.get(impl.plugin_name, (impl.plugin_name, "", ""))
        others = [other.plugin for other in hook_impls if other is not impl]
        try:
            pm.subset_hook_caller(hook_name, remove_plugins=others)(register=make_register(owner))
        except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt: the plugin's own
            message = f"{hook_name} failed: {_describe(exc)}"
            if _strict():
                raise PluginError(f"plugin '{owner[0]}' ({owner[1] or 'no distribution'}): {message}") from exc
            registry.add_error(owner[0], owner[1], message)


@functools.lru_cache(maxsize=1)
def get_registry():
    """The registry of everything the installed plugins provide (built once per process)."""
    return build_registry()


def build_registry(extra_plugins=()):
    pm, owners, errors = build_plugin_manager(extra_plugins)
    registry = Registry()
    registry.plugin_manager = pm
    registry.errors.extend(errors)
    _call_each(pm, "advdl_register_families", owners, registry,  # first: algorithms name their family
               lambda owner: functools.partial(registry.register_family, owner=owner))
    _call_each(pm, "advdl_register_algorithms", owners, registry,
               lambda owner: functools.partial(registry.register_algorithm, owner=owner))
    _call_each(pm, "advdl_register_envs", owners, registry,
               lambda owner: functools.partial(registry.register_env, owner=owner))
    _call_each(pm, "advdl_register_datasets", owners, registry,
               lambda owner: functools.partial(registry.register_dataset, owner=owner))
    if _strict() and registry.errors:
        first = registry.errors[0]
        raise PluginError(f"plugin '{first['plugin']}' ({first['distribution'] or 'no distribution'}): {first['error']}")
    return registry
