"""Start, resume and evaluate runs: the one run skeleton around a family's Runner and its trainer.

The skeleton owns what every run shares: the run folder (new or empty, one writer), config.yaml,
the callbacks (``advdl_run_callbacks`` and the caller's), Ctrl-C and SIGTERM, a full disk, NaN
stops, summary.json (last: it marks a finished run) and ``on_end``. The family is looked up once,
here (``runner_for``); what differs between families is the Runner's.
"""

import errno
import json
import re
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from advdl.api.errors import CheckpointError, ConfigError, RunFolderError, RunInterrupted, TrainingDiverged
from advdl.runs import checkpoint
from advdl.runs import folder as runfolder
from advdl.settings.files import load_file
from advdl.settings.values import build

CONFIG_FILE = "config.yaml"
SUMMARY_FILE = "summary.json"
STORAGE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO, errno.EFBIG}


def default_run_dir(algorithm, env_id, seed):
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{algorithm}-{re.sub(r'[^A-Za-z0-9.-]+', '_', env_id)}-s{seed}-{stamp}"


def runner_class(spec):
    """The Runner class of ``spec``'s family (the FamilySpec the registry attached to ``spec``)."""
    from advdl.loading.registry import import_target

    family = spec.family_spec
    return import_target(family.runner, f"family '{family.name}'", family)


def runner_for(spec, registry=None):
    """The Runner of ``spec``'s family, ready to start, resume or evaluate one of its runs."""
    return runner_class(spec)(spec, registry, start_run=train)


def config_data(spec, run_config, algo_config, preset):
    """The resolved settings as a config file holds them (``--config`` reads them back)."""
    from advdl.settings.values import to_dict

    settings = runner_for(spec).file_settings(run_config)
    return {"algorithm": spec.name, "preset": preset, **settings, "hyperparameters": to_dict(algo_config)}


def write_config(run_dir, spec, run_config, algo_config, preset):
    import yaml

    data = config_data(spec, run_config, algo_config, preset)
    checkpoint.write_atomic(run_dir / CONFIG_FILE, yaml.safe_dump(data, sort_keys=False).encode())


def read_run(run_dir, registry):
    """(spec, run settings, algorithm config) of an existing run folder, or a CheckpointError."""
    from advdl.settings.resolve import run_config_class

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"run folder not found: {run_dir}")
    runfolder.scan(run_dir)  # no links, FIFOs or devices: nothing read or written leaves the folder or hangs
    if not (run_dir / CONFIG_FILE).is_file():
        raise CheckpointError(f"{run_dir} is not an advdl run folder (no {CONFIG_FILE})")
    data = load_file(run_dir / CONFIG_FILE)
    spec = registry.algorithm(str(data.pop("algorithm", "")))
    hyper = data.pop("hyperparameters", {}) or {}
    data.pop("preset", None)
    data = runner_for(spec, registry).read_settings(data)
    try:
        return spec, build(run_config_class(spec), data, "run settings"), build(spec.config, hyper, "hyperparameters")
    except ConfigError as exc:  # an edited or damaged config.yaml: name it
        raise ConfigError(f"{run_dir / CONFIG_FILE}: {exc}") from None


@contextmanager
def writing(run_dir, unit):
    """An error writing the run folder mid-run (a full disk, the folder made read-only) becomes one
    RunFolderError line: what failed, and that the last complete checkpoint is intact to resume from."""
    try:
        yield
    except (RunFolderError, OSError) as exc:
        first = next((e for e in _chain(exc) if isinstance(e, RunFolderError)), None)
        name = getattr(exc, "filename", None) if first is None else None
        inside = bool(name) and Path(run_dir).absolute() in Path(name).absolute().parents
        if first is None and not inside and exc.errno not in STORAGE_ERRORS:
            raise  # not a write to the run folder
        what = str(first) if first else (f"cannot write {exc.filename or 'in the run folder ' + str(run_dir)}: "
                                         f"{exc.strerror}{checkpoint.free_space_note(run_dir)}")
        saved = checkpoint.list_checkpoints(Path(run_dir) / "checkpoints")
        kept = (f"the last complete checkpoint ({unit} {int(saved[-1].stem[5:])}) is intact" if saved
                else "no checkpoint was written yet")
        raise RunFolderError(f"{what}; {kept}: once the folder can be written again, continue with: "
                             f"advdl run --resume {run_dir}") from None


def _chain(exc):
    while exc is not None:
        yield exc
        exc = exc.__context__


@contextmanager
def stop_on_signals(trainer):
    """First Ctrl-C / SIGTERM: finish the step, checkpoint, stop. A second Ctrl-C aborts."""

    def handler(signum, frame):
        trainer.request_stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print("\nStopping: writing a checkpoint (Ctrl-C again to abort without one)...", file=sys.stderr)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def train(spec, run_config, algo_config, run_dir, registry, preset=None, resume_state=None,
          progress=True, callbacks=(), dataset=None, resumed=False):
    """Train (or continue training) and write the finished run folder; returns the summary. A new run
    (neither ``resume_state`` nor ``resumed``: a resume of a run stopped before its first checkpoint)
    needs a new or empty folder. ``dataset``: a dataset run's images, already loaded."""
    from advdl.api.backend import request_strict_determinism

    if run_config.deterministic and not request_strict_determinism():
        print("advdl: --deterministic: TensorFlow started in this process before the run, so its oneDNN kernels and "
              "thread counts stay as they were (run it as its own process for strict determinism)", file=sys.stderr)
    runner = runner_for(spec, registry)
    runner.check(run_config, dataset)
    with runner.folder(run_config, run_dir, new=resume_state is None and not resumed) as folder:
        run_dir = folder.path
        from_plugins = registry.plugin_manager.hook.advdl_run_callbacks(
            algorithm=spec.name, config=run_config, run_dir=run_dir)
        all_callbacks = [c for group in from_plugins if group for c in group] + list(callbacks)
        trainer = runner.build(run_config, algo_config, run_dir, all_callbacks, progress, dataset=dataset)
        if resume_state is None:
            write_config(run_dir, spec, run_config, algo_config, preset)
        folder.started = True
        with writing(run_dir, runner.unit):
            try:
                run_trainer(trainer, resume_state, run_dir, runner.unit)
            finally:
                runner.close(trainer)
            summary = runner.finish(trainer, run_config, run_dir, preset)
            write_hparams_of(run_dir, spec, run_config, algo_config, preset, summary, trainer)
            # last: summary.json marks a finished run (a run killed before it resumes into its final evaluation)
            checkpoint.write_atomic(run_dir / SUMMARY_FILE, (json.dumps(summary, indent=2) + "\n").encode())
    for callback in all_callbacks:
        if hasattr(callback, "on_end"):
            callback.on_end(trainer, summary)
    return summary

def write_hparams_of(run_dir, spec, run_config, algo_config, preset, summary, trainer):
    """TensorBoard's HParams summary of a finished run: its settings and final metrics."""
    from advdl.runs.family import trial_metrics
    from advdl.runs.logs import write_hparams

    settings = config_data(spec, run_config, algo_config, preset)
    write_hparams(run_dir / "tensorboard", settings, trial_metrics(summary), getattr(trainer, "step", 0))


def run_trainer(trainer, resume_state, run_dir, unit):
    """Continue from ``resume_state`` (if any) and train; a requested stop becomes RunInterrupted, a
    NaN or infinite metric TrainingDiverged."""
    from advdl.runs.loop import Diverged, Interrupted

    if resume_state is not None:
        try:
            trainer.load_checkpoint(resume_state)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise CheckpointError(f"the last checkpoint in {run_dir} does not fit this run ({type(exc).__name__}: "
                                  f"{exc}): another run's, or another advdl version's") from None
    try:
        with stop_on_signals(trainer):
            trainer.train()
    except Interrupted as stop:
        raise RunInterrupted(
            f"interrupted at {unit} {stop.step}; checkpoint written to {stop.path}. "
            f"Resume with: advdl run --resume {run_dir}") from None
    except Diverged as bad:
        saved = checkpoint.list_checkpoints(Path(run_dir) / "checkpoints")
        kept = (f"the last good checkpoint is {saved[-1]} (advdl run --resume {run_dir} continues from it)" if saved
                else "no checkpoint was written before it")
        raise TrainingDiverged(f"{bad.metric} became {bad.value:g} at {unit} {bad.step}: training stopped; {kept}. "
                               f"A lower learning rate may help; --set on_nan=continue trains on regardless") from None


def resume(run_dir, registry, steps=None, progress=True, callbacks=()):
    """Continue a run from its last intact checkpoint; a run stopped before its first checkpoint starts
    over from its config.yaml (the same seed gives the same run)."""
    spec, run_config, algo_config = read_run(run_dir, registry)
    with _writer_lock(run_config, run_dir):  # before reading the checkpoints another writer may prune
        return _resume(spec, run_config, algo_config, Path(run_dir), registry, steps, progress, callbacks)


def _writer_lock(run_config, run_dir):
    from contextlib import nullcontext

    from advdl.runs.workers import is_chief

    return runfolder.lock(run_dir) if is_chief(getattr(run_config, "strategy", "default")) else nullcontext()


def _resume(spec, run_config, algo_config, run_dir, registry, steps, progress, callbacks):
    runner = runner_for(spec, registry)
    finished = (run_dir / SUMMARY_FILE).exists()
    state = None
    if checkpoint.list_checkpoints(run_dir / "checkpoints") or finished:
        state = checkpoint.load_latest(run_dir / "checkpoints", runner.check_state, report=runfolder.warn)
    else:
        runfolder.warn(f"{run_dir} stopped before its first checkpoint: starting it over from its {CONFIG_FILE}")
    extended = runner.resume_settings(run_config, state, steps, run_dir, finished)
    preset = load_file(run_dir / CONFIG_FILE).get("preset")
    if extended is not run_config:
        write_config(run_dir, spec, extended, algo_config, preset)
        (run_dir / SUMMARY_FILE).unlink(missing_ok=True)  # unfinished until the longer run writes its own
    return train(spec, extended, algo_config, run_dir, registry, preset, resume_state=state, progress=progress,
                 callbacks=callbacks, resumed=True)


def evaluate_run(run_dir, registry, episodes, seed=None, record=None, model=None):
    """``advdl eval``: deterministic evaluation of a finished run's saved model (RL); test metrics (datasets).
    ``model``: an exported policy file evaluated instead (RL)."""
    spec, run_config, algo_config = read_run(run_dir, registry)
    runner = runner_for(spec, registry)
    if model is not None:
        if not hasattr(runner, "evaluate_exported"):
            raise ConfigError(f"--model evaluates an exported policy on an RL run's environment; {run_dir} is a "
                              f"{spec.family} run")
        if record:
            raise ConfigError("--record animates the run's own model; leave out --model")
        return runner.evaluate_exported(model, run_config, episodes, seed)
    return runner.evaluate(run_dir, run_config, algo_config, episodes, seed, record)


def _generative(run_dir, registry):
    """(spec, run settings, algorithm config, runner) of a finished run whose runner scores (generative)."""
    spec, run_config, algo_config = read_run(run_dir, registry)
    runner = runner_for(spec, registry)
    if not hasattr(runner, "score"):
        raise ConfigError(f"{run_dir} is a {spec.family} run of '{spec.name}'; sample and score need a generative model")
    return spec, run_config, algo_config, runner


def load_generative(run_dir, registry):
    """(spec, run settings, model with its final weights, dataset) of a finished generative run."""
    spec, run_config, algo_config, runner = _generative(run_dir, registry)
    model, dataset = runner.load_finished(run_dir, run_config, algo_config)
    return spec, run_config, model, dataset


def score_run(run_dir, registry, n=1000, seed=0):
    """``advdl score``: scores of ``n`` samples against the held-out images, with the real-data floor."""
    _, run_config, algo_config, runner = _generative(run_dir, registry)
    return runner.score(run_dir, run_config, algo_config, n, seed)
