"""``run_algorithm``: one run in this process, set up as ``advdl run`` would set it up."""

import json
from collections.abc import Mapping
from pathlib import Path

from advdl.settings.resolve import resolve, run_keys, split_settings


def env_kwargs_items(env_kwargs):
    """``{"is_slippery": False}`` or the CLI's ``["is_slippery=false"]`` as the CLI's KEY=VALUE items.

    A mapping's values are written as JSON (which YAML reads back exactly): ``False`` stays a bool,
    ``"4x4"`` a string, ``None`` null.
    """
    if not env_kwargs:
        return []
    if isinstance(env_kwargs, str):
        return [env_kwargs]
    if isinstance(env_kwargs, Mapping):
        return [f"{key}={_yaml_value(value)}" for key, value in env_kwargs.items()]
    return [str(item) for item in env_kwargs]


def _yaml_value(value):
    try:
        return json.dumps(value)
    except (TypeError, ValueError):  # e.g. a numpy scalar: its text is a YAML scalar too
        return str(value)


def run_algorithm(name, target, out, *, steps=None, seed=0, preset=None, progress=False, callbacks=(),
                  env_kwargs=None, registry=None, **settings):
    """Train ``name`` on ``target`` (an env id, or a dataset name for supervised and generative
    models) into the run folder ``out``; return the summary dict.

    Keyword arguments are hyperparameters or run settings (``eval_interval=0``, ``epochs=2``); a run
    setting given as None keeps the preset's (or the default) value. ``env_kwargs`` is a mapping or
    the CLI's ``KEY=VALUE`` strings. ``registry`` defaults to the installed plugins' (``get_registry``).
    """
    from advdl.runs.start import train  # numpy, gymnasium: only when a run starts

    if registry is None:
        from advdl.loading.manager import get_registry

        registry = get_registry()
    spec = registry.algorithm(name)
    keys = run_keys(spec)
    given, hyper_flags = split_settings(spec, settings)
    run_flags = {"seed": seed} | ({"steps": steps} if "steps" in keys else {}) | given
    if env_kwargs:
        run_flags["env_kwargs"] = env_kwargs_items(env_kwargs)
    where = {"env": target} if "env" in keys else {"data": target}
    run_config, algo_config, preset = resolve(spec, preset=preset, run_flags=run_flags, hyper_flags=hyper_flags,
                                              **where)
    return train(spec, run_config, algo_config, Path(out), registry, preset, progress=progress,
                 callbacks=callbacks)
