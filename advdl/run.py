"""Start, resume and evaluate runs: the run folder around a Trainer."""

import errno
import json
import numbers
import os
import platform
import re
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from . import __version__, checkpoint
from .config import RunConfig, build, env_kwargs_values, load_file, run_config_class, to_dict
from .environments import make_env
from .errors import CheckpointError, ConfigError, EnvSpaceError, RunFolderError, RunInterrupted, TrainingDiverged

CONFIG_FILE = "config.yaml"
SUMMARY_FILE = "summary.json"
MIN_FREE_BYTES = 50 * 2**20  # the pre-flight check's floor: checkpoints, logs, the model
STORAGE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO, errno.EFBIG}


def default_run_dir(algorithm, env_id, seed):
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{algorithm}-{re.sub(r'[^A-Za-z0-9.-]+', '_', env_id)}-s{seed}-{stamp}"


def config_data(spec, run_config, algo_config, preset):
    """The resolved settings as a config file holds them (``--config`` reads them back)."""
    data = {"algorithm": spec.name, "preset": preset, **to_dict(run_config)}
    if spec.family == "rl":
        data["env_kwargs"] = env_kwargs_values(run_config.env_kwargs)
    return data | {"hyperparameters": to_dict(algo_config)}


def write_config(run_dir, spec, run_config, algo_config, preset):
    import yaml

    data = config_data(spec, run_config, algo_config, preset)
    checkpoint.write_atomic(run_dir / CONFIG_FILE, yaml.safe_dump(data, sort_keys=False).encode())


def read_run(run_dir, registry):
    """(spec, RunConfig, algorithm config) of an existing run folder, or a CheckpointError."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"run folder not found: {run_dir}")
    if not (run_dir / CONFIG_FILE).is_file():
        raise CheckpointError(f"{run_dir} is not an advdl run folder (no {CONFIG_FILE})")
    data = load_file(run_dir / CONFIG_FILE)
    spec = registry.algorithm(str(data.pop("algorithm", "")))
    hyper = data.pop("hyperparameters", {}) or {}
    data.pop("preset", None)
    if spec.family == "rl" and isinstance(data.get("env_kwargs") or {}, dict):  # else: a type error from build
        data["env_kwargs"] = [f"{k}={v}" for k, v in (data.get("env_kwargs") or {}).items()]
    try:
        return spec, build(run_config_class(spec), data, "run settings"), build(spec.config, hyper, "hyperparameters")
    except ConfigError as exc:  # an edited or damaged config.yaml: name it
        raise ConfigError(f"{run_dir / CONFIG_FILE}: {exc}") from None


def build_agent(spec, run_config, algo_config, registry):
    """The agent and a factory of its environment, after checking the spaces fit."""
    kwargs = env_kwargs_values(run_config.env_kwargs)

    def env_factory():
        return make_env(run_config.env, registry, kwargs)

    probe = env_factory()
    agent_class = spec.load_class()
    try:
        agent_class.check_spaces(probe.observation_space, probe.action_space)
    except EnvSpaceError as exc:
        raise EnvSpaceError(f"{spec.name} cannot run on {run_config.env}: {exc}") from None
    finally:
        probe.close()
    agent = agent_class(algo_config, probe.observation_space, probe.action_space,
                        seed=run_config.seed, total_steps=run_config.steps)
    return agent, env_factory


def prepare_run_dir(run_dir):
    """Pre-flight check of a run folder, before any training: create it, check it takes a file and
    its disk has MIN_FREE_BYTES free (a RunFolderError naming the folder otherwise), and delete
    the temp files of a process killed while writing (they are never taken as checkpoints)."""
    import shutil
    import tempfile

    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunFolderError(f"the run folder {run_dir} is a file, not a folder")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in run_dir.parents if p.exists() and not p.is_dir()), None)
        reason = f"{blocker} is a file, not a folder" if blocker else exc.strerror
        raise RunFolderError(f"cannot create the run folder {run_dir}: {reason}") from None
    try:
        with tempfile.TemporaryFile(dir=run_dir) as probe:
            probe.write(b"advdl")
            probe.flush()
    except OSError as exc:
        raise RunFolderError(f"the run folder {run_dir} is not writable: {exc.strerror}") from None
    free = shutil.disk_usage(run_dir).free
    if free < MIN_FREE_BYTES:
        raise RunFolderError(f"only {checkpoint.format_bytes(free)} free on the disk of the run folder {run_dir}; "
                             f"a run needs at least {checkpoint.format_bytes(MIN_FREE_BYTES)} for its checkpoints, "
                             f"logs and model")
    for folder in (run_dir, run_dir / "checkpoints"):
        checkpoint.remove_stale_temps(folder)
    return run_dir


@contextmanager
def writing(run_dir, unit):
    """An error writing the run folder mid-run (a full disk, the folder made read-only) becomes one
    RunFolderError line: what failed, and that the last complete checkpoint is intact to resume from."""
    try:
        yield
    except (RunFolderError, OSError) as exc:
        first = next((e for e in _chain(exc) if isinstance(e, RunFolderError)), None)
        if first is None and (exc.errno not in STORAGE_ERRORS
                              or exc.filename and Path(run_dir).absolute() not in Path(exc.filename).absolute().parents):
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
          progress=True, callbacks=(), dataset=None):
    """Train (or continue training) and write the finished run folder; returns the summary."""
    from .backend import request_strict_determinism
    from .trainer import Trainer

    if run_config.deterministic and not request_strict_determinism():
        print("advdl: --deterministic: TensorFlow started in this process before the run, so its oneDNN kernels and "
              "thread counts stay as they were (run it as its own process for strict determinism)", file=sys.stderr)
    if spec.family != "rl":
        return train_on_data(spec, run_config, algo_config, run_dir, registry, preset, resume_state, progress,
                             callbacks, dataset)

    run_dir = prepare_run_dir(run_dir)
    agent, env_factory = build_agent(spec, run_config, algo_config, registry)
    if resume_state is None:
        write_config(run_dir, spec, run_config, algo_config, preset)
    plugin_callbacks = registry.plugin_manager.hook.advdl_run_callbacks(
        algorithm=spec.name, config=run_config, run_dir=run_dir)
    all_callbacks = [c for group in plugin_callbacks if group for c in group] + list(callbacks)
    trainer = Trainer(agent, env_factory, run_config, run_dir, all_callbacks, progress)
    with writing(run_dir, "step"):
        try:
            run_trainer(trainer, resume_state, run_dir, "step")
        finally:
            trainer.close_envs()
        return finish(trainer, spec, run_config, run_dir, preset)


def run_trainer(trainer, resume_state, run_dir, unit):
    """Continue from ``resume_state`` (if any) and train; a requested stop becomes RunInterrupted, a
    NaN or infinite metric TrainingDiverged."""
    from .trainer import Diverged, Interrupted

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
            f"interrupted at {unit} {stop.env_steps}; checkpoint written to {stop.path}. "
            f"Resume with: advdl run --resume {run_dir}") from None
    except Diverged as bad:
        saved = checkpoint.list_checkpoints(Path(run_dir) / "checkpoints")
        kept = (f"the last good checkpoint is {saved[-1]} (advdl run --resume {run_dir} continues from it)" if saved
                else "no checkpoint was written before it")
        raise TrainingDiverged(f"{bad.metric} became {bad.value:g} at {unit} {bad.step}: training stopped; {kept}. "
                               f"A lower learning rate may help; --set on_nan=continue trains on regardless") from None


def finish(trainer, spec, run_config, run_dir, preset):
    from .evaluation import evaluate, stats
    from .plots import learning_curve
    from .runlog import read_columns

    agent = trainer.agent
    kept = trainer.restore_best() if run_config.keep_best else None
    agent.save_model(run_dir / agent.model_file)
    returns = evaluate(agent, trainer.make_env, run_config.final_eval_episodes, run_config.seed)
    final = stats(returns) | {"returns": returns}
    wall = trainer.wall_seconds()
    threshold = trainer.threshold
    first = next((e for e in trainer.evaluations if threshold is not None and e["mean"] >= threshold), None)
    summary = {
        "algorithm": spec.name, "env": run_config.env, "seed": run_config.seed, "preset": preset,
        "env_steps": trainer.env_steps, "episodes": trainer.episodes,
        "terminated_episodes": trainer.terminated_episodes,
        "wall_seconds": round(wall, 3), "steps_per_second": round(trainer.env_steps / max(wall, 1e-9), 1),
        "eval_seconds": round(trainer.eval_seconds, 3),
        "eval": final, "kept_best": kept, "reward_threshold": threshold,
        "first_eval_at_threshold": first and {"env_steps": first["env_steps"], "wall_seconds": first["wall_seconds"]},
        "episodes_to_solve": trainer.solved_episode,
        "evaluations": trainer.evaluations,
        "model": agent.model_file,
        "versions": {"advdl": __version__, "python": platform.python_version(), **_versions()},
    }
    steps, returns = read_columns(run_dir / "episodes.csv", "env_steps", "return")
    learning_curve(run_dir / "learning_curve.png", steps, returns, trainer.evaluations,
                   f"{spec.name} on {run_config.env} (seed {run_config.seed})", threshold)
    # last: summary.json marks a finished run (a run killed before it resumes into its final evaluation)
    checkpoint.write_atomic(run_dir / SUMMARY_FILE, (json.dumps(summary, indent=2) + "\n").encode())
    return summary


def _versions():
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("tensorflow", "keras", "gymnasium", "numpy"):
        if name in sys.modules or name == "gymnasium":
            try:
                out[name] = version(name)
            except PackageNotFoundError:
                pass
    return out


def resume(run_dir, registry, steps=None, progress=True, callbacks=()):
    """Continue a run from its last checkpoint; a run stopped before its first checkpoint starts over
    from its config.yaml (the same seed gives the same run)."""
    spec, run_config, algo_config = read_run(run_dir, registry)
    state = None
    if checkpoint.list_checkpoints(Path(run_dir) / "checkpoints") or (Path(run_dir) / SUMMARY_FILE).exists():
        state = checkpoint.load_latest(Path(run_dir) / "checkpoints")
    else:
        print(f"advdl: {run_dir} stopped before its first checkpoint: starting it over from its {CONFIG_FILE}",
              file=sys.stderr)
    if spec.family != "rl":
        if steps is not None:
            raise CheckpointError("--steps extends RL runs; a run on a dataset trains for its configured epochs")
        if (Path(run_dir) / SUMMARY_FILE).exists():
            raise CheckpointError(f"{run_dir} already finished its {run_config.epochs} epochs")
        preset = load_file(Path(run_dir) / CONFIG_FILE).get("preset")
        return train(spec, run_config, algo_config, run_dir, registry, preset, resume_state=state, progress=progress,
                     callbacks=callbacks)
    if state is not None and not all(isinstance(state.get(k), numbers.Integral) for k in ("env_steps", "episodes")):
        raise CheckpointError(f"the last checkpoint in {run_dir} does not fit this run (no step counters): "
                              f"another run's, or another advdl version's")
    if steps is not None:
        if state is not None and steps <= state["env_steps"]:
            raise CheckpointError(f"--steps must exceed the {state['env_steps']} steps already trained in {run_dir}")
        run_config = build(RunConfig, {**to_dict(run_config), "steps": steps}, "--steps")
    # a run stopped during its final evaluation (no summary yet) resumes straight into it
    done = state is not None and (state["env_steps"] >= run_config.steps or 0 < run_config.episodes <= state["episodes"])
    if done and (Path(run_dir) / SUMMARY_FILE).exists():
        raise CheckpointError(
            f"{run_dir} already finished ({state['env_steps']} steps, {state['episodes']} episodes); pass "
            f"--steps N (N > {state['env_steps']}) to train further")
    data = load_file(Path(run_dir) / CONFIG_FILE)
    if steps is not None:
        write_config(Path(run_dir), spec, run_config, algo_config, data.get("preset"))
        (Path(run_dir) / SUMMARY_FILE).unlink(missing_ok=True)  # unfinished until the longer run writes its own
    return train(spec, run_config, algo_config, run_dir, registry, data.get("preset"),
                 resume_state=state, progress=progress, callbacks=callbacks)


def load_final(run_dir, learner):
    """Load a finished run's final model into ``learner`` (an agent or a model)."""
    path = Path(run_dir) / learner.model_file
    if not path.is_file():
        raise CheckpointError(f"{run_dir} has no final model ({learner.model_file}): the run did not finish; "
                              f"resume it with: advdl run --resume {run_dir}")
    learner.load_model(path)


def evaluate_run(run_dir, registry, episodes, seed=None, record=None):
    """Deterministic evaluation of a finished run's saved model (RL); test metrics (datasets)."""
    from .evaluation import evaluate, stats

    spec, run_config, algo_config = read_run(run_dir, registry)
    if spec.family != "rl":
        if record:
            raise ConfigError(f"--record animates an RL episode; {run_dir} is a {spec.family} run on {run_config.data}")
        model, dataset = build_model(spec, run_config, algo_config, registry)
        load_final(run_dir, model)
        return model.evaluate(dataset.x_test, dataset.y_test)
    agent, env_factory = build_agent(spec, run_config, algo_config, registry)
    load_final(run_dir, agent)
    seed = run_config.seed if seed is None else seed
    result = stats(evaluate(agent, env_factory, episodes, seed))
    if record:
        record_episode(agent, run_config, registry, record, seed)
    return result


def record_episode(agent, run_config, registry, path, seed):
    """Write one greedy episode as an animation (GIF, or any format imageio knows)."""
    import imageio.v2 as imageio
    import numpy as np

    # off-screen rendering needs no display or sound device (SDL complains on headless machines)
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    env = make_env(run_config.env, registry, env_kwargs_values(run_config.env_kwargs), render_mode="rgb_array")
    obs, _ = env.reset(seed=seed + 100_000)
    frames, done = [env.render()], False
    while not done:
        obs, _, terminated, truncated, _ = env.step(agent.env_action(agent.act(np.asarray(obs)[None], explore=False))[0])
        frames.append(env.render())
        done = terminated or truncated
    env.close()
    imageio.mimsave(path, frames, duration=1000 / env.metadata.get("render_fps", 30), loop=0)
    return len(frames)


# -- runs on datasets (supervised and generative models) --------------------------------------------
def build_model(spec, run_config, algo_config, registry, dataset=None, strategy=None):
    """The model and its dataset (loaded unless given), after checking the model can use the dataset;
    with a tf.distribute ``strategy``, built in its scope."""
    import math
    from contextlib import nullcontext

    from .data import load_dataset
    from .interfaces import DataInfo

    dataset = dataset or load_dataset(run_config.data, registry, run_config.data_dir or None)
    info = DataInfo(dataset.name, tuple(dataset.image_shape), dataset.num_classes)
    model_class = spec.load_class()
    model_class.check_data(info)
    extras = {role: load_dataset(name, registry, run_config.data_dir or None)
              for role, name in model_class.extra_datasets(algo_config).items()}
    batches = math.ceil(len(dataset.x_train) / algo_config.batch_size)
    with strategy.scope() if strategy is not None else nullcontext():
        model = model_class(algo_config, info, seed=run_config.seed, total_steps=batches * run_config.epochs,
                            **extras)
    return model, dataset


def train_on_data(spec, run_config, algo_config, run_dir, registry, preset, resume_state, progress, callbacks=(),
                  dataset=None):
    import shutil
    import tempfile

    from .datatrainer import DataTrainer
    from .distribute import is_chief, make_strategy

    given = dataset is not None  # a caller that passes the dataset has reported its note already
    if run_config.strategy != "default" and not spec.load_class().distributable:
        raise ConfigError(f"{spec.name} does not support --strategy {run_config.strategy}; it trains with the "
                          f"default strategy (one device)")
    if not given:
        registry.dataset(run_config.data)  # an unknown name fails before TensorFlow starts
    if is_chief(run_config.strategy):
        prepare_run_dir(run_dir)
    strategy = make_strategy(run_config.strategy, run_config.replicas)
    model, dataset = build_model(spec, run_config, algo_config, registry, dataset, strategy)
    if dataset.note and not given:
        print(f"advdl: {run_config.data}: {dataset.note}", file=sys.stderr)
    # a multi-worker run's folder is the chief's; the other workers write a scratch copy
    scratch = None if is_chief(run_config.strategy) else Path(tempfile.mkdtemp(prefix="advdl-worker-"))
    run_dir = scratch or Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        if resume_state is None:
            write_config(run_dir, spec, run_config, algo_config, preset)
        if spec.family == "generative":
            from .scoring import scorer_for

            model.run_dir = run_dir
            if model.scored:
                model.scorer = scorer_for(dataset, registry)
        trainer = DataTrainer(model, dataset, run_config, run_dir, progress, callbacks, strategy)
        with writing(run_dir, "batch"):
            run_trainer(trainer, resume_state, run_dir, "batch")
            return finish_on_data(trainer, spec, run_config, run_dir, preset, dataset)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def finish_on_data(trainer, spec, run_config, run_dir, preset, dataset):
    from .plots import epoch_curves

    model = trainer.model
    model.save_model(run_dir / model.model_file)
    last = trainer.history[-1]  # the last epoch's evaluation
    test = {name: last[name] for name in model.test_metric_names if name in last}
    summary = {
        "algorithm": spec.name, "data": run_config.data, "seed": run_config.seed, "preset": preset,
        **test, "final": test, "epochs": run_config.epochs, "steps": trainer.step,
        "train_images": len(dataset.x_train), "test_images": len(dataset.x_test),
        "data_source": dataset.source, "data_note": dataset.note,
        "parameters": model.count_params(), "strategy": run_config.strategy, "replicas": trainer.replicas,
        "wall_seconds": round(trainer.wall_seconds(), 3), "images_per_second": round(trainer.images_per_second(), 1),
        "history": trainer.history, "model": model.model_file,
        "versions": {"advdl": __version__, "python": platform.python_version(), **_versions()},
    }
    epoch_curves(run_dir / "learning_curves.png", trainer.history, model.metric_names, model.test_metric_names,
                 f"{spec.name} on {run_config.data} (seed {run_config.seed})")
    model.write_figures(run_dir, dataset)
    checkpoint.write_atomic(run_dir / SUMMARY_FILE, (json.dumps(summary, indent=2) + "\n").encode())  # last
    return summary


# -- generative models: samples and scores -----------------------------------------------------------
def load_generative(run_dir, registry):
    """(spec, run config, model with its final weights, dataset) of a finished generative run."""
    spec, run_config, algo_config = read_run(run_dir, registry)
    if spec.family != "generative":
        raise ConfigError(f"{run_dir} is a {spec.family} run of '{spec.name}'; sample and score need a generative model")
    model, dataset = build_model(spec, run_config, algo_config, registry)
    load_final(run_dir, model)
    return spec, run_config, model, dataset


def generate_samples(spec, model, dataset, n, label=None, seed=0):
    """(images, labels): labels are the asked ones for a conditional model (cycling 0..K-1 without
    ``label``), -1 for an unconditional one."""
    import numpy as np

    if n < 1:
        raise ConfigError(f"--n must be at least 1, got {n}")
    if label is not None and not model.conditional:
        raise ConfigError(f"--label needs a conditional model; '{spec.name}' is unconditional")
    if label is not None and not 0 <= label < dataset.num_classes:
        raise ConfigError(f"--label must be in 0..{dataset.num_classes - 1}, got {label}")
    if model.conditional:
        labels = np.full(n, label) if label is not None else np.arange(n) % dataset.num_classes
    else:
        labels = np.full(n, -1)
    return model.generate(n, labels if model.conditional else None, seed), labels.astype(np.int64)


def generate_sweep(spec, model, code, seed=0):
    """(images, labels of -1, columns) of a grid that varies one of the model's latent codes."""
    import numpy as np

    if not model.codes:
        raise ConfigError(f"--sweep needs a model with latent codes; '{spec.name}' has none")
    if code not in model.codes:
        raise ConfigError(f"unknown code '{code}' for '{spec.name}'; its codes: {', '.join(model.codes)}")
    images, columns = model.sweep(code, seed)
    return images, np.full(len(images), -1, np.int64), columns


def write_samples(images, labels, out, columns=10):
    """A grid (.png, ``columns`` wide) or the arrays ``images`` and ``labels`` (.npz)."""
    import numpy as np

    from .plots import image_grid

    out = Path(out)
    if out.suffix not in (".png", ".npz"):
        raise ConfigError(f"--out must end in .png (a grid) or .npz (arrays), got {out.name}")
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".png":
        image_grid(out, images, columns)
    else:
        np.savez(out, images=images.astype(np.float32), labels=labels)
    return out


def translate_images(spec, model, dataset, direction, n, out):
    """Translate the first ``n`` held-out images of a two-domain model's source domain into ``out``:
    a .png of source rows over translation rows (10 wide), or a .npz of sources, images, labels."""
    import numpy as np

    from .plots import as_rgb, image_grid

    if not model.directions:
        raise ConfigError(f"translate needs a two-domain model (cyclegan); '{spec.name}' translates nothing")
    if direction not in model.directions:
        raise ConfigError(f"unknown direction '{direction}' for '{spec.name}'; its directions: "
                          f"{', '.join(model.directions)}")
    if n < 1:
        raise ConfigError(f"--n must be at least 1, got {n}")
    out = Path(out)
    if out.suffix not in (".png", ".npz"):
        raise ConfigError(f"--out must end in .png (a grid) or .npz (arrays), got {out.name}")
    sources, images, labels = model.translate(direction, n, dataset)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npz":
        np.savez(out, sources=sources.astype(np.float32), images=images.astype(np.float32), labels=labels)
        return out, len(images)
    if sources.shape[-1] != images.shape[-1]:  # grey beside colour
        sources, images = as_rgb(sources), as_rgb(images)
    columns, rows = min(10, len(images)), []
    for i in range(0, len(images), columns):
        for part in (sources[i:i + columns], images[i:i + columns]):
            rows.append(np.concatenate([part, np.ones((columns - len(part), *part.shape[1:]), np.float32)]))
    image_grid(out, np.concatenate(rows), columns)
    return out, len(images)


def score_run(run_dir, registry, n=1000, seed=0):
    """Scores of ``n`` samples against the held-out images, with the real-data floor."""
    from .scoring import score, scorer_for

    spec, run_config, model, dataset = load_generative(run_dir, registry)
    images, labels = generate_samples(spec, model, dataset, n, seed=seed)
    scorer = scorer_for(dataset, registry)
    floor_images = dataset.x_train[:len(dataset.x_test)]
    result = score(scorer, images, dataset.x_test, labels if model.conditional else None, floor_images)
    return result | model.extra_scores(scorer, n, seed, dataset)
