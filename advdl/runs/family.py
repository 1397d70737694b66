"""The Runner: what a family of runs (env runs, dataset runs, ...) brings to the one run skeleton in
``advdl.runs.start``. The skeleton owns the run folder, the config file, the callbacks, Ctrl-C and
checkpoints; a Runner builds the trainer, writes the summary and figures, and answers for its
family's options, evaluation and resume rules.
"""

import platform
import sys
from pathlib import Path

from advdl import __version__
from advdl.api.errors import CheckpointError, ConfigError
from advdl.runs import folder as runfolder


class Runner:
    """Subclass it for a family and register it with a ``FamilySpec`` (see ``advdl.api.family``).

    ``start_run`` is ``advdl.runs.start.train``, handed in by whoever starts the run, for a runner
    that needs a run of its own first (the generative family trains its scoring classifier).
    """

    #: what a checkpoint counts, in messages ("interrupted at step 500")
    unit = "step"
    #: the metrics ``advdl sweep --metric`` may rank by (None: whatever the summaries hold), and its default
    metric_names = None
    default_metric = None

    def __init__(self, spec, registry=None, start_run=None):
        self.spec, self.registry, self.start_run = spec, registry, start_run
        self.family = spec.family_spec

    @classmethod
    def options(cls):
        """The click options of ``advdl run ALGO`` for this family's run settings (its target first)."""
        return []

    def check(self, run_config, dataset=None):
        """Before TensorFlow starts: raise for a name that does not exist (an env id, a dataset)."""

    def budget(self, run_config):
        """How long the run trains, for its first line ("3000 steps")."""
        return ""

    def file_settings(self, run_config):
        """The run settings as config.yaml holds them (plain YAML values)."""
        from advdl.settings.values import to_dict

        return to_dict(run_config)

    def read_settings(self, values):
        """config.yaml's run settings back into what the settings class builds from."""
        return values

    def folder(self, run_config, run_dir, new):
        """The run folder guard (``runfolder.opened``) the run writes into."""
        return runfolder.opened(run_dir, new=new)

    def build(self, run_config, algo_config, run_dir, callbacks, progress, **given):
        """The trainer of this run (it has ``train``, ``load_checkpoint``, ``request_stop``)."""
        raise NotImplementedError

    def close(self, trainer):
        """After training, also when it failed (close environments)."""

    def finish(self, trainer, run_config, run_dir, preset):
        """Write the final model, the figures and return the summary (the skeleton writes summary.json)."""
        raise NotImplementedError

    @staticmethod
    def check_state(state, path):
        """Check a loaded checkpoint's layout (``checkpoint.load_latest``'s ``check``)."""

    def resume_settings(self, run_config, state, steps, run_dir, finished):
        """The settings a resumed run continues with (``steps``: the ``--steps`` a user gave, or None);
        raise CheckpointError when there is nothing to continue."""
        return run_config

    def evaluate(self, run_dir, run_config, algo_config, episodes, seed, record):
        """``advdl eval`` of a finished run: a dict of numbers."""
        raise NotImplementedError

    def export_parts(self, run_dir, run_config, algo_config):
        """``advdl export`` of a finished run: ({part: advdl.api.ExportPart}, {part: the learner's own outputs
        on that part's inputs, which the exported file must reproduce}); see ``export_parts_of``."""
        raise ConfigError(f"{self.spec.family} runs have no export")

    def aggregate(self, runs, describe):
        """Over the summaries of one setting's seeds (``--seeds``, sweeps): the family's statistics, each
        list of per-seed values passed through ``describe`` (mean, IQM, interval)."""
        return {}

    def curve(self, summary):
        """(x, y) of the learning curve a summary holds, for the plots over seeds."""
        return [], []

    def curve_axes(self, summary):
        """(x label, y label, threshold or None) of those curves."""
        return "", "", None

    def report(self, summary, run_dir):
        """The line printed when the run finished."""
        return f"Finished {summary['algorithm']}. Run folder: {run_dir}"


def versions():
    """The versions of what computed a run, for its summary."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"advdl": __version__, "python": platform.python_version()}
    for name in ("tensorflow", "keras", "gymnasium", "numpy"):
        if name in sys.modules or name == "gymnasium":
            try:
                out[name] = version(name)
            except PackageNotFoundError:
                pass
    return out


def load_final(run_dir, learner):
    """Load a finished run's final model into ``learner`` (an agent or a model)."""
    path = Path(run_dir) / learner.model_file
    if not path.is_file():
        raise CheckpointError(f"{run_dir} has no final model ({learner.model_file}): the run did not finish; "
                              f"resume it with: advdl run --resume {run_dir}")
    learner.load_model(path)


def export_parts_of(spec, learner, *args):
    """``learner.export_parts(*args)``, a plugin's missing export or a broken one named in one line."""
    from advdl.loading.registry import plugin_call

    missing = object()

    def call():
        try:
            return learner.export_parts(*args)
        except NotImplementedError:
            return missing

    parts = plugin_call(spec, f"{type(learner).__name__}.export_parts(...)", call)
    if parts is missing:
        raise ConfigError(f"'{spec.name}' has no export: its plugin ({spec.distribution or spec.plugin}) defines no "
                          f"export_parts")
    if not parts:
        raise ConfigError(f"'{spec.name}' exported nothing (export_parts returned no part)")
    return parts


def trial_metrics(summary):
    """The numbers a trial reports: RL the final evaluation and its cost; datasets every final test metric."""
    if "env" in summary:
        evaluations = [e["mean"] for e in summary.get("evaluations") or []]
        threshold = summary.get("reward_threshold")
        metrics = {"eval_mean": summary["eval"]["mean"], "eval_std": summary["eval"]["std"],
                   "best_eval_mean": max(evaluations + [summary["eval"]["mean"]]),
                   "episodes": summary["episodes"], "env_steps": summary["env_steps"],
                   "wall_seconds": summary["wall_seconds"], "steps_per_second": summary["steps_per_second"]}
        if threshold is not None:
            metrics["solved"] = float(summary["eval"]["mean"] >= threshold)
        return metrics
    final = {k: v for k, v in summary.get("final", {}).items() if isinstance(v, (int, float))}
    return final | {"wall_seconds": summary["wall_seconds"], "images_per_second": summary["images_per_second"]}
