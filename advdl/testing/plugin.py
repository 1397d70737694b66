"""advdl's pytest plugin: fixtures for testing an advdl plugin (loaded through the ``pytest11`` entry point).

pytest imports this module in every session wherever advdl is installed, so it imports nothing heavy:
the registry is built, and TensorFlow or numpy imported, only when a test asks for a fixture.

- ``advdl_plugins``: plugin objects or modules to register besides the installed ones (none; override it).
- ``advdl_registry``: a fresh registry of the installed plugins and ``advdl_plugins``.
- ``advdl_make_registry(*plugins)``: another fresh registry, with these plugins too.
- ``advdl_run(name, target, **settings)``: a tiny run in ``tmp_path``, returned as a ``RunFolder``.
- ``advdl_run_folder(path)``: a ``RunFolder`` of a folder written otherwise (``advdl run`` in a subprocess).
"""

import itertools

import pytest

# What makes advdl_run's run tiny, where the algorithm's family has the setting (each overridable; None keeps
# the preset's or the default value): RL runs 200 env steps, dataset runs one epoch.
TINY = {"steps": 200, "eval_interval": 0, "eval_episodes": 1, "final_eval_episodes": 1, "log_interval": 50,
        "checkpoint_interval": 0, "epochs": 1}


@pytest.fixture
def advdl_plugins():
    """Plugins (objects or modules with ``@advdl.hookimpl`` hooks) that are not installed through entry points,
    registered in ``advdl_registry`` besides the installed ones. None by default: override this fixture in a
    conftest.py (``return [my_plugin_module]``) to test a plugin without installing it."""
    return []


@pytest.fixture
def advdl_make_registry(advdl_plugins):
    """``make(*plugins)``: a fresh registry of the installed plugins, ``advdl_plugins`` and ``plugins``
    (``advdl.loading.manager.build_registry``; the process-wide ``get_registry()`` is left alone)."""
    from advdl.loading.manager import build_registry

    def make(*plugins):
        return build_registry(extra_plugins=[*advdl_plugins, *plugins])

    return make


@pytest.fixture
def advdl_registry(advdl_make_registry):
    """A fresh registry of the installed plugins and ``advdl_plugins``, what ``advdl list`` would see
    (``.errors`` lists the plugins that failed to load)."""
    return advdl_make_registry()


@pytest.fixture
def advdl_run(advdl_registry, tmp_path):
    """``run(name, target, *, registry=None, out=None, tiny=True, **settings)``: train ``name`` on ``target`` (an
    env id or a dataset name) in this process and return the finished run's ``RunFolder``.

    The run goes to a new folder in ``tmp_path`` (or ``out``) with ``advdl_registry`` (or ``registry``). It is
    tiny (``TINY``): 200 env steps, no periodic evaluation, a 1-episode final evaluation, a metrics row every
    50 steps, one checkpoint at the end; one epoch on a dataset. ``settings`` (run settings,
    hyperparameters, ``seed``, ``preset``, ``env_kwargs``, ``callbacks``) override that; ``tiny=False`` runs as
    ``advdl run`` would, with the preset named after the target or the defaults.
    """
    from advdl.settings.resolve import run_keys
    from advdl.testing import RunFolder, run_algorithm

    counter = itertools.count(1)

    def run(name, target, *, registry=None, out=None, tiny=True, **settings):
        registry = registry or advdl_registry
        if tiny:
            keys = run_keys(registry.algorithm(name))
            settings = {k: v for k, v in TINY.items() if k in keys} | settings
        if out is None:
            out = next(p for p in (tmp_path / f"{name}-{i}" for i in counter) if not p.exists())
        return RunFolder(out, run_algorithm(name, target, out, registry=registry, **settings))

    return run


@pytest.fixture
def advdl_run_folder():
    """``read(path)``: the ``RunFolder`` of a run folder written some other way (e.g. ``advdl run`` in a subprocess)."""
    from advdl.testing import RunFolder

    return RunFolder
