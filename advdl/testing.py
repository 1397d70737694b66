"""Helpers for tests (advdl's own and plugin authors'): train a run in-process, read its files."""

import json
from pathlib import Path

from .config import resolve
from .plugin_manager import get_registry
from .run import train


def run_algorithm(name, env, out, *, steps=None, seed=0, preset=None, progress=False, callbacks=(),
                  env_kwargs=None, registry=None, **hyperparameters):
    """Train ``name`` on ``env`` into the run folder ``out``; return the summary dict."""
    registry = registry or get_registry()
    spec = registry.algorithm(name)
    run_flags = {"steps": steps, "seed": seed}
    if env_kwargs:
        run_flags["env_kwargs"] = [f"{k}={v}" for k, v in env_kwargs.items()]
    run_config, algo_config, preset = resolve(spec, env=env, preset=preset, run_flags=run_flags,
                                              hyper_flags=hyperparameters)
    return train(spec, run_config, algo_config, Path(out), registry, preset, progress=progress,
                 callbacks=callbacks)


def read_summary(run_dir):
    return json.loads((Path(run_dir) / "summary.json").read_text())
