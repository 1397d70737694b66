"""Every hook advdl calls. A plugin implements some of them with ``@advdl.hookimpl``.

Hooks are called with keyword arguments. A plugin is a module (or object) named by an entry
point in the ``advdl`` group; advdl's own algorithms are registered exactly that way.
"""

import pluggy

PROJECT = "advdl"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def advdl_register_algorithms(register):
    """Register algorithms by calling ``register(AlgorithmSpec(...))`` once per algorithm.

    Keep the module that implements this hook cheap to import (no TensorFlow): ``advdl list``
    and ``advdl info`` import it. Point ``AlgorithmSpec.factory`` at the heavy class as a
    ``"module:Class"`` string; it is imported only when the algorithm runs.
    """


@hookspec
def advdl_register_families(register):
    """Register run families by calling ``register(FamilySpec(...))`` (see ``advdl.api.family``).

    Called before ``advdl_register_algorithms``: an ``AlgorithmSpec.family`` must name a registered
    family. advdl registers ``rl``, ``supervised`` and ``generative`` this way.
    """


@hookspec
def advdl_register_commands(cli):
    """Add CLI verbs: ``cli`` is the ``advdl`` click group; call ``cli.add_command(command)``.

    Called when the command line is built; a verb may not replace one of advdl's own. Keep the module
    cheap to import (``advdl --help`` builds the command line).
    """


@hookspec
def advdl_register_envs(register):
    """Register Gymnasium environments by calling ``register(EnvSpec(...))``.

    advdl registers them with Gymnasium before it makes an environment, so ``--env ID`` finds
    them. The entry point is a ``"module:Class"`` string, imported only when the env is made.
    """


@hookspec
def advdl_register_datasets(register):
    """Register image datasets by calling ``register(DatasetSpec(...))``.

    ``DatasetSpec(name, loader, summary="", image_shape=(), num_classes=10, scorer_epochs=0)``: ``loader`` is a
    ``"module:function"`` string naming ``function(data_dir, spec) -> advdl.api.Dataset`` (made with
    ``spec.dataset(x_train, y_train, x_test, y_test, source=...)``; a loader without a ``spec``
    parameter is called as ``function(data_dir)``), imported only when a run uses the dataset.
    ``advdl run MODEL --data NAME`` then finds it.
    """


@hookspec
def advdl_run_callbacks(algorithm, config, run_dir):
    """Return a list of extra callbacks for a run (or None).

    Called at the start of every run of every family, new or resumed. ``algorithm`` is the
    algorithm name, ``config`` the run's resolved settings (its family's settings class: RunConfig,
    DataRunConfig, ...), ``run_dir`` a ``pathlib.Path``. A callback subclasses
    ``advdl.api.Callback`` (or has some of its methods: ``on_start(run)``, ``on_log(run, row)``,
    ``on_evaluation(run, record)``, ``on_end(run, summary)``, and for env runs
    ``on_episode_end``); ``on_log`` and ``on_evaluation`` returning True end the run normally,
    with its final evaluation.
    """
