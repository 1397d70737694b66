"""Run settings and hyperparameters of one run, resolved as defaults < preset < config file < flags.
The family's run-settings class comes from the FamilySpec the registry attached to the algorithm."""

import dataclasses

from advdl.api.errors import ConfigError, unknown_name
from advdl.settings.values import build


def run_config_class(spec):
    """The run-settings class of ``spec``'s family (RL: RunConfig; datasets: DataRunConfig)."""
    return spec.family_spec.settings_class()


def run_keys(spec):
    return tuple(f.name for f in dataclasses.fields(run_config_class(spec)))


def split_settings(spec, values):
    """``values`` (setting name -> value) as ``(run_values, hyper_values)``: the run settings of ``spec``'s
    family, and the rest (its hyperparameters, or unknown names, which ``build`` reports)."""
    keys = set(run_keys(spec))
    run_values = {k: v for k, v in values.items() if k in keys}
    return run_values, {k: v for k, v in values.items() if k not in keys}


def resolve(spec, *, env=None, preset=None, file_data=None, run_flags=None, hyper_flags=None, data=None, target=None):
    """Merge defaults < preset < config file < flags into (run config, algorithm config, preset).
    ``target`` (or ``env``, ``data``: its names in advdl's families) is what the run trains on."""
    file_data = dict(file_data or {})
    key = spec.family_spec.target  # the run setting naming what the run trains on: env, data
    target = target or env or data or file_data.get(key) or ""
    if preset is None:
        preset = file_data.get("preset")
    if preset is None and target in spec.presets:
        preset = target
    if preset == "none":  # opt out of the automatic per-environment (per-dataset) preset
        preset = ""
    run_values, hyper_values = {}, {}
    if preset:
        if preset not in spec.presets:
            raise unknown_name(f"preset for {spec.name}", preset, spec.presets,
                               f" Presets: {', '.join(spec.presets) or 'none'}.")
        chosen = spec.presets[preset]
        target = target or chosen.get(key, "")
        run_values.update(chosen.get("run", {}))
        hyper_values.update(chosen.get("hyperparameters", {}))
    file_algo = file_data.pop("algorithm", None)
    if file_algo not in (None, spec.name):
        raise ConfigError(f"config file is for algorithm '{file_algo}', not '{spec.name}'")
    hyper_values.update(file_data.pop("hyperparameters", None) or {})
    file_data.pop("preset", None)
    run_values.update(file_data)
    run_values.update({k: v for k, v in (run_flags or {}).items() if v is not None})
    hyper_values.update(hyper_flags or {})
    if isinstance(run_values.get("env_kwargs"), dict):
        run_values["env_kwargs"] = [f"{k}={v}" for k, v in run_values["env_kwargs"].items()]
    run_values[key] = target or run_values.get(key, "")
    settings = run_config_class(spec)
    run_config = build(settings, run_values, "run settings")
    if not getattr(run_config, key):
        raise ConfigError(settings.missing_target(spec))
    algo_config = build(spec.config, hyper_values, f"{spec.name} hyperparameters", also=run_keys(spec))
    return run_config, algo_config, preset
