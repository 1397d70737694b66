"""What the plugins registered: algorithms and environments, with who registered each."""

import dataclasses
import importlib
import re

from advdl.api import specs
from advdl.api.errors import AdvdlError, PluginError, unknown_name
from advdl.api.specs import AlgorithmSpec, DatasetSpec, EnvSpec
from advdl.loading.presets import check_presets

_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def plugin_call(owner, what, fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, a plugin's code called by the core: an unexpected exception (SystemExit
    too) becomes one PluginError naming the plugin (``owner``: a spec, or its description) and ``what``
    failed, raised from it; an AdvdlError the plugin raises on purpose passes unchanged."""
    try:
        return fn(*args, **kwargs)
    except AdvdlError:
        raise
    except (Exception, SystemExit) as exc:  # not KeyboardInterrupt: Ctrl-C stays Ctrl-C
        who = owner if isinstance(owner, str) else _owner(owner)
        detail = f"{type(exc).__name__}: {exc}" if isinstance(exc, Exception) else repr(exc)
        raise PluginError(f"{who}: {what} failed: {detail} (ADVDL_DEBUG=1 shows the traceback)") from exc


def import_target(target, what, spec):
    """The object ``"module:attr"`` names, imported on behalf of the plugin that registered ``spec``."""
    from advdl.loading.imports import stuck_import

    module_name, _, attr = target.partition(":")
    held = stuck_import(module_name)
    if held:
        raise PluginError(f"{_owner(spec)}: {what}: cannot import {target}: module {held} is still importing "
                          f"(its plugin took more than ADVDL_PLUGIN_TIMEOUT seconds)")
    return plugin_call(spec, f"{what}: importing {target}",
                       lambda: getattr(importlib.import_module(module_name), attr))


specs.import_factory = import_target  # AlgorithmSpec.load_class imports through it


class Registry:
    def __init__(self):
        self.families = {}
        self.algorithms = {}
        self.envs = {}
        self.datasets = {}
        self.errors = []  # {"plugin", "distribution", "error"}
        self._conflicts = {}

    def add_error(self, plugin, distribution, message):
        self.errors.append({"plugin": plugin, "distribution": distribution, "error": message})

    def register_family(self, spec, owner):
        from advdl.api.family import FamilySpec

        if not isinstance(spec, FamilySpec):
            raise PluginError(f"register() expects a FamilySpec, got {type(spec).__name__}")
        if not _NAME.match(spec.name):
            raise PluginError(f"invalid family name {spec.name!r} (lowercase, digits, - and _)")
        for what, target in (("runner", spec.runner), ("settings", spec.settings)):
            if not _TARGET.match(target):
                raise PluginError(f"family '{spec.name}': {what} must be 'module:Class'")
        spec.plugin, spec.distribution, spec.version = owner
        self._add("family", self.families, spec.name, spec)

    def register_algorithm(self, spec, owner):
        plugin, dist, version = owner
        if not isinstance(spec, AlgorithmSpec):
            raise PluginError(f"register() expects an AlgorithmSpec, got {type(spec).__name__}")
        if not _NAME.match(spec.name):
            raise PluginError(f"invalid algorithm name {spec.name!r} (lowercase, digits, - and _)")
        if spec.family not in self.families:
            raise PluginError(f"algorithm '{spec.name}': family must be one of {', '.join(sorted(self.families))}")
        if not dataclasses.is_dataclass(spec.config):
            raise PluginError(f"algorithm '{spec.name}': config must be a dataclass")
        if not _TARGET.match(spec.factory):
            raise PluginError(f"algorithm '{spec.name}': factory must be 'module:Class'")
        spec.plugin, spec.distribution, spec.version = plugin, dist, version
        spec.family_spec = self.families[spec.family]
        check_presets(spec)  # a broken preset breaks its plugin now, not the run that picks it
        self._add("algorithm", self.algorithms, spec.name, spec)

    def register_env(self, spec, owner):
        plugin, dist, version = owner
        if not isinstance(spec, EnvSpec):
            raise PluginError(f"register() expects an EnvSpec, got {type(spec).__name__}")
        if not _TARGET.match(spec.entry_point):
            raise PluginError(f"env '{spec.id}': entry_point must be 'module:Class'")
        spec.plugin, spec.distribution, spec.version = plugin, dist, version
        self._add("env", self.envs, spec.id, spec)

    def register_dataset(self, spec, owner):
        plugin, dist, version = owner
        if not isinstance(spec, DatasetSpec):
            raise PluginError(f"register() expects a DatasetSpec, got {type(spec).__name__}")
        if not _NAME.match(spec.name):
            raise PluginError(f"invalid dataset name {spec.name!r} (lowercase, digits, - and _)")
        if not _TARGET.match(spec.loader):
            raise PluginError(f"dataset '{spec.name}': loader must be 'module:function'")
        if type(spec.scorer_epochs) is not int or not 0 <= spec.scorer_epochs <= 10_000:
            raise PluginError(f"dataset '{spec.name}': scorer_epochs must be an int in 0..10000 (0: the default), "
                              f"got {spec.scorer_epochs!r}")
        spec.plugin, spec.distribution, spec.version = plugin, dist, version
        self._add("dataset", self.datasets, spec.name, spec)

    def _add(self, kind, table, name, spec):
        if (kind, name) in self._conflicts:
            self._conflicts[(kind, name)].append(spec)
            return
        if name in table:
            first = table.pop(name)
            self._conflicts[(kind, name)] = [first, spec]
            self.add_error(
                spec.plugin, spec.distribution,
                f"{kind} '{name}' is registered twice: by {_owner(first)} and by {_owner(spec)}",
            )
            return
        table[name] = spec

    def check_conflict(self, kind, name):
        """Raise for a name two plugins registered (neither is used)."""
        if (kind, name) in self._conflicts:
            owners = " and ".join(_owner(s) for s in self._conflicts[(kind, name)])
            raise PluginError(
                f"{kind} '{name}' is registered by both {owners}; "
                f"block one with ADVDL_BLOCK_PLUGINS=<plugin>"
            )

    def algorithm(self, name):
        self.check_conflict("algorithm", name)
        if name not in self.algorithms:
            raise unknown_name("algorithm", name, self.algorithms, " Run `advdl list` to see them all.")
        return self.algorithms[name]


    def dataset(self, name):
        self.check_conflict("dataset", name)
        if name not in self.datasets:
            raise unknown_name("dataset", name, self.datasets, f" Datasets: {', '.join(sorted(self.datasets))}.")
        return self.datasets[name]


def _owner(spec):
    origin = f"{spec.distribution} {spec.version}".strip() or "no distribution"
    return f"plugin '{spec.plugin}' ({origin})"
