"""An algorithm's presets, checked when its plugin registers it rather than when a run picks one.

A preset is ``{"description": ..., TARGET: ..., "steps": ..., "run": {...}, "hyperparameters": {...}}``
(every key optional; TARGET is the family's, ``env`` or ``data``): ``run`` holds run settings of the
algorithm's family, ``hyperparameters`` fields of its config, and both must convert as ``build``
converts them, on top of the defaults. Cheap: no numpy, no TensorFlow.
"""

from collections.abc import Mapping

from advdl.api.errors import ConfigError, PluginError, did_you_mean
from advdl.settings.resolve import run_config_class, run_keys
from advdl.settings.values import build, fields_of

PRESET_KEYS = ("description", "steps", "run", "hyperparameters")  # and the family's target


def check_presets(spec):
    """Raise a PluginError naming the algorithm and the preset for the first preset of ``spec`` that a run
    could not use."""
    if not isinstance(spec.presets, Mapping):
        raise PluginError(f"algorithm '{spec.name}': presets must map preset names to settings, got "
                          f"{type(spec.presets).__name__}")
    for name, preset in spec.presets.items():
        where = f"algorithm '{spec.name}': preset {name!r}"
        try:
            _check(spec, name, preset)
        except ConfigError as exc:
            raise PluginError(f"{where}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - the config's own __post_init__ is plugin code
            raise PluginError(f"{where}: {type(exc).__name__}: {exc}") from exc


def _check(spec, name, preset):
    if not isinstance(name, str) or not name:
        raise ConfigError("preset names are non-empty text")
    if not isinstance(preset, Mapping):
        raise ConfigError(f"a preset is a mapping of {', '.join(PRESET_KEYS)}, got {type(preset).__name__}")
    target = spec.family_spec.target
    allowed = (*PRESET_KEYS, target)
    for key in preset:
        if key not in allowed:
            raise ConfigError(f"unknown key {key!r}.{did_you_mean(str(key), allowed)} A preset has "
                              f"{', '.join(allowed)}.")
    for key in ("description", target):
        if key in preset and not isinstance(preset[key], str):
            raise ConfigError(f"{key} must be text, got {preset[key]!r}")
    run, hyper = _mapping(preset, "run"), _mapping(preset, "hyperparameters")
    _known(run, run_keys(spec), "run", f"a run setting of the {spec.family} family")
    _known(hyper, [f.name for f, _ in fields_of(spec.config)], "hyperparameters", f"a field of {spec.config.__name__}")
    build(run_config_class(spec), run, "run")
    build(spec.config, hyper, "hyperparameters")


def _mapping(preset, key):
    value = preset.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key} must be a mapping of settings, got {type(value).__name__}")
    return dict(value)


def _known(values, names, key, what):
    for name in values:
        if name not in names:
            raise ConfigError(f"{key}: {name!r} is not {what}.{did_you_mean(str(name), names)}")
