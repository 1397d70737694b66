"""Helpers for tests (advdl's own and plugin authors'): train a run in-process, read its files."""

import json
from pathlib import Path

from advdl.loading.manager import get_registry
from advdl.runs.start import train
from advdl.settings.config import resolve, run_keys


def run_algorithm(name, target, out, *, steps=None, seed=0, preset=None, progress=False, callbacks=(),
                  env_kwargs=None, registry=None, **settings):
    """Train ``name`` on ``target`` (an env id, or a dataset name for supervised and generative
    models) into the run folder ``out``; return the summary dict.

    Keyword arguments are hyperparameters or run settings (``eval_interval=0``, ``epochs=2``).
    """
    registry = registry or get_registry()
    spec = registry.algorithm(name)
    keys = run_keys(spec)
    run_flags = {"seed": seed} | ({"steps": steps} if spec.family == "rl" else {})
    run_flags.update({k: settings.pop(k) for k in list(settings) if k in keys})
    if env_kwargs:
        run_flags["env_kwargs"] = [f"{k}={v}" for k, v in env_kwargs.items()]
    where = {"env": target} if spec.family == "rl" else {"data": target}
    run_config, algo_config, preset = resolve(spec, preset=preset, run_flags=run_flags, hyper_flags=settings, **where)
    return train(spec, run_config, algo_config, Path(out), registry, preset, progress=progress,
                 callbacks=callbacks)


def read_summary(run_dir):
    return json.loads((Path(run_dir) / "summary.json").read_text())
