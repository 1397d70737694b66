"""Helpers for tests (advdl's own and plugin authors'): train a run in-process, read its files."""

import json
from pathlib import Path

from .config import RUN_KEYS, resolve
from .plugin_manager import get_registry
from .run import train


def run_algorithm(name, env, out, *, steps=None, seed=0, preset=None, progress=False, callbacks=(),
                  env_kwargs=None, registry=None, **hyperparameters):
    """Train ``name`` on ``env`` into the run folder ``out``; return the summary dict.

    Keyword arguments are hyperparameters or run settings (``eval_interval=0``, ``keep_best=True``).
    """
    registry = registry or get_registry()
    spec = registry.algorithm(name)
    run_flags = {"steps": steps, "seed": seed}
    run_flags.update({k: hyperparameters.pop(k) for k in list(hyperparameters) if k in RUN_KEYS})
    if env_kwargs:
        run_flags["env_kwargs"] = [f"{k}={v}" for k, v in env_kwargs.items()]
    run_config, algo_config, preset = resolve(spec, env=env, preset=preset, run_flags=run_flags,
                                              hyper_flags=hyperparameters)
    return train(spec, run_config, algo_config, Path(out), registry, preset, progress=progress,
                 callbacks=callbacks)


def read_summary(run_dir):
    return json.loads((Path(run_dir) / "summary.json").read_text())
