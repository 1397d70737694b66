"""Start, resume and evaluate runs: the run folder around a Trainer."""

import errno
import json
import os
import platform
import re
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from advdl import __version__
from advdl.api.errors import CheckpointError, ConfigError, EnvSpaceError, RunFolderError, RunInterrupted, TrainingDiverged
from advdl.loading.registry import plugin_call
from advdl.rl.environments import make_env
from advdl.runs import checkpoint
from advdl.runs import folder as runfolder
from advdl.settings.config import RunConfig, build, env_kwargs_values, load_file, run_config_class, to_dict

CONFIG_FILE = "config.yaml"
SUMMARY_FILE = "summary.json"
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
    runfolder.scan(run_dir)  # no links, FIFOs or devices: nothing read or written leaves the folder or hangs
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
    name = getattr(agent_class, "__name__", spec.factory)
    try:
        plugin_call(spec, f"{name}.check_spaces(...)", agent_class.check_spaces,
                    probe.observation_space, probe.action_space)
    except EnvSpaceError as exc:
        raise EnvSpaceError(f"{spec.name} cannot run on {run_config.env}: {exc}") from None
    finally:
        probe.close()
    agent = plugin_call(spec, f"{name}(...)", agent_class, algo_config, probe.observation_space,
                        probe.action_space, seed=run_config.seed, total_steps=run_config.steps)
    return agent, env_factory


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
    needs a new or empty folder."""
    from advdl.api.backend import request_strict_determinism
    from advdl.rl.trainer import Trainer

    if run_config.deterministic and not request_strict_determinism():
        print("advdl: --deterministic: TensorFlow started in this process before the run, so its oneDNN kernels and "
              "thread counts stay as they were (run it as its own process for strict determinism)", file=sys.stderr)
    if spec.family != "rl":
        return train_on_data(spec, run_config, algo_config, run_dir, registry, preset, resume_state, progress,
                             callbacks, dataset, resumed)

    with runfolder.opened(run_dir, new=resume_state is None and not resumed) as folder:
        run_dir = folder.path
        agent, env_factory = build_agent(spec, run_config, algo_config, registry)
        if resume_state is None:
            write_config(run_dir, spec, run_config, algo_config, preset)
        plugin_callbacks = registry.plugin_manager.hook.advdl_run_callbacks(
            algorithm=spec.name, config=run_config, run_dir=run_dir)
        all_callbacks = [c for group in plugin_callbacks if group for c in group] + list(callbacks)
        trainer = Trainer(agent, env_factory, run_config, run_dir, all_callbacks, progress)
        folder.started = True
        with writing(run_dir, "step"):
            try:
                run_trainer(trainer, resume_state, run_dir, "step")
            finally:
                trainer.close_envs()
            return finish(trainer, spec, run_config, run_dir, preset)


def run_trainer(trainer, resume_state, run_dir, unit):
    """Continue from ``resume_state`` (if any) and train; a requested stop becomes RunInterrupted, a
    NaN or infinite metric TrainingDiverged."""
    from advdl.rl.trainer import Diverged, Interrupted

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
    from advdl.api.plots import learning_curve
    from advdl.rl.evaluation import evaluate, stats
    from advdl.runs.logs import read_columns

    agent = trainer.agent
    kept = trainer.restore_best() if run_config.keep_best else None
    runfolder.write_staged(run_dir, lambda stage: agent.save_model(stage / agent.model_file))
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
    """Continue a run from its last intact checkpoint; a run stopped before its first checkpoint starts
    over from its config.yaml (the same seed gives the same run)."""
    spec, run_config, algo_config = read_run(run_dir, registry)
    with _writer_lock(spec, run_config, run_dir):  # before reading the checkpoints another writer may prune
        return _resume(spec, run_config, algo_config, Path(run_dir), registry, steps, progress, callbacks)


def _writer_lock(spec, run_config, run_dir):
    from contextlib import nullcontext

    from advdl.datasets.distribute import is_chief

    return runfolder.lock(run_dir) if is_chief(getattr(run_config, "strategy", "default")) else nullcontext()


def _resume(spec, run_config, algo_config, run_dir, registry, steps, progress, callbacks):
    from advdl.datasets.trainer import check_state as check_data_state
    from advdl.rl.trainer import check_state

    state = None
    if checkpoint.list_checkpoints(run_dir / "checkpoints") or (run_dir / SUMMARY_FILE).exists():
        state = checkpoint.load_latest(run_dir / "checkpoints", check_state if spec.family == "rl" else check_data_state,
                                       report=runfolder.warn)
    else:
        runfolder.warn(f"{run_dir} stopped before its first checkpoint: starting it over from its {CONFIG_FILE}")
    if spec.family != "rl":
        if steps is not None:
            raise CheckpointError("--steps extends RL runs; a run on a dataset trains for its configured epochs")
        if (run_dir / SUMMARY_FILE).exists():
            raise CheckpointError(f"{run_dir} already finished its {run_config.epochs} epochs")
        preset = load_file(run_dir / CONFIG_FILE).get("preset")
        return train(spec, run_config, algo_config, run_dir, registry, preset, resume_state=state, progress=progress,
                     callbacks=callbacks, resumed=True)
    if steps is not None:
        if state is not None and steps <= state["env_steps"]:
            raise CheckpointError(f"--steps must exceed the {state['env_steps']} steps already trained in {run_dir}")
        run_config = build(RunConfig, {**to_dict(run_config), "steps": steps}, "--steps")
    # a run stopped during its final evaluation (no summary yet) resumes straight into it
    done = state is not None and (state["env_steps"] >= run_config.steps or 0 < run_config.episodes <= state["episodes"])
    if done and (run_dir / SUMMARY_FILE).exists():
        raise CheckpointError(
            f"{run_dir} already finished ({state['env_steps']} steps, {state['episodes']} episodes); pass "
            f"--steps N (N > {state['env_steps']}) to train further")
    data = load_file(run_dir / CONFIG_FILE)
    if steps is not None:
        write_config(run_dir, spec, run_config, algo_config, data.get("preset"))
        (run_dir / SUMMARY_FILE).unlink(missing_ok=True)  # unfinished until the longer run writes its own
    return train(spec, run_config, algo_config, run_dir, registry, data.get("preset"),
                 resume_state=state, progress=progress, callbacks=callbacks, resumed=True)


def load_final(run_dir, learner):
    """Load a finished run's final model into ``learner`` (an agent or a model)."""
    path = Path(run_dir) / learner.model_file
    if not path.is_file():
        raise CheckpointError(f"{run_dir} has no final model ({learner.model_file}): the run did not finish; "
                              f"resume it with: advdl run --resume {run_dir}")
    learner.load_model(path)


def evaluate_run(run_dir, registry, episodes, seed=None, record=None):
    """Deterministic evaluation of a finished run's saved model (RL); test metrics (datasets)."""
    from advdl.rl.evaluation import evaluate, stats

    spec, run_config, algo_config = read_run(run_dir, registry)
    if spec.family != "rl":
        if record:
            raise ConfigError(f"--record animates an RL episode; {run_dir} is a {spec.family} run on {run_config.data}")
        model, dataset = build_model(spec, run_config, algo_config, registry)
        load_final(run_dir, model)
        return model.evaluate(dataset.x_test, dataset.y_test)
    if record:
        check_record(record)  # before the evaluation: a name that cannot be written wastes none
    agent, env_factory = build_agent(spec, run_config, algo_config, registry)
    load_final(run_dir, agent)
    seed = run_config.seed if seed is None else seed
    result = stats(evaluate(agent, env_factory, episodes, seed))
    if record:
        record_episode(agent, run_config, registry, record, seed)
    return result


RECORD_FORMATS = (".gif", ".webp")  # animations Pillow writes; imageio's others (.mp4) need extra packages
RECORD_OFFSET = 100_000  # the recorded episode's seed: seed + RECORD_OFFSET (the periodic evaluations' first)


def check_record(path):
    if Path(path).suffix.lower() not in RECORD_FORMATS:
        raise ConfigError(f"--record writes an animation: its file must end in {' or '.join(RECORD_FORMATS)}, "
                          f"got {Path(path).name}")


def record_episode(agent, run_config, registry, path, seed):
    """Write one greedy episode as an animation (.gif or .webp); returns its frame count. The episode
    ends, as an evaluation's, after evaluation.MAX_EPISODE_STEPS steps, and earlier if its frames
    would no longer fit in memory."""
    import imageio.v3 as iio
    import numpy as np

    from advdl.api.errors import AdvdlError
    from advdl.api.memory import available_bytes
    from advdl.rl import evaluation

    check_record(path)
    # off-screen rendering needs no display or sound device (SDL complains on headless machines)
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    env = make_env(run_config.env, registry, env_kwargs_values(run_config.env_kwargs), render_mode="rgb_array")
    try:
        modes = list(env.metadata.get("render_modes") or ())
        if "rgb_array" not in modes:
            raise ConfigError(f"--record needs an environment that renders images (render mode rgb_array); "
                              f"{run_config.env} renders {', '.join(map(str, modes)) or 'nothing'}")
        obs, _ = env.reset(seed=seed + RECORD_OFFSET)
        frames = [_frame(env, run_config.env)]
        room = available_bytes()  # the frames, and as much again to encode them
        limit = evaluation.MAX_EPISODE_STEPS
        if room is not None:
            limit = max(1, min(limit, room // (2 * frames[0].nbytes + 1)))
        done = False
        while not done and len(frames) <= limit:
            action = agent.env_action(agent.act(np.asarray(obs)[None], explore=False))[0]
            obs, _, terminated, truncated, _ = env.step(action)
            frames.append(_frame(env, run_config.env))
            done = terminated or truncated
        if not done:
            print(f"advdl: --record: the episode was cut after {len(frames) - 1:,} steps ("
                  + ("the evaluation's step cap" if limit == evaluation.MAX_EPISODE_STEPS else "its frames fill the memory")
                  + ")", file=sys.stderr)
        fps = env.metadata.get("render_fps") or 30
    finally:
        env.close()
    suffix = Path(path).suffix.lower()
    if len({frame.shape for frame in frames}) > 1:
        raise ConfigError(f"--record: {run_config.env} rendered frames of different sizes; they make no animation")
    data = iio.imwrite("<bytes>", np.stack(frames), extension=suffix, duration=1000 / fps, loop=0)
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        checkpoint.write_atomic(path, data)
    except OSError as exc:
        raise AdvdlError(f"cannot write {path}: {exc.strerror or exc}") from None
    return len(frames)


def _frame(env, env_id):
    """The environment's rendered image (H, W, 3) uint8, or one line saying why there is none."""
    import numpy as np

    try:
        frame = env.render()
    except Exception as exc:  # a renderer's missing dependency (pygame), a display it cannot open...
        raise ConfigError(f"--record: {env_id} cannot render: {type(exc).__name__}: {exc}") from None
    frame = np.asarray(frame) if frame is not None else None
    if frame is None or frame.ndim != 3 or frame.shape[-1] not in (3, 4) or frame.size == 0:
        shape = "nothing" if frame is None else f"an array of shape {frame.shape}"
        raise ConfigError(f"--record: {env_id} rendered {shape}, not an image (height, width, 3)")
    return frame[..., :3].astype(np.uint8, copy=False)


# -- runs on datasets (supervised and generative models) --------------------------------------------
def build_model(spec, run_config, algo_config, registry, dataset=None, strategy=None):
    """The model and its dataset (loaded unless given), after checking the model can use the dataset;
    with a tf.distribute ``strategy``, built in its scope."""
    import math
    from contextlib import nullcontext

    from advdl.api.interfaces import DataInfo
    from advdl.datasets.data import load_dataset

    dataset = dataset or load_dataset(run_config.data, registry, run_config.data_dir or None)
    info = DataInfo(dataset.name, tuple(dataset.image_shape), dataset.num_classes)
    model_class = spec.load_class()
    class_name = getattr(model_class, "__name__", spec.factory)
    plugin_call(spec, f"{class_name}.check_data(...)", model_class.check_data, info)
    wanted = plugin_call(spec, f"{class_name}.extra_datasets(...)", lambda: dict(model_class.extra_datasets(algo_config)))
    extras = {role: load_dataset(name, registry, run_config.data_dir or None) for role, name in wanted.items()}
    batches = math.ceil(len(dataset.x_train) / algo_config.batch_size)
    with strategy.scope() if strategy is not None else nullcontext():
        model = plugin_call(spec, f"{class_name}(...)", model_class, algo_config, info, seed=run_config.seed,
                            total_steps=batches * run_config.epochs, **extras)
    return model, dataset


def train_on_data(spec, run_config, algo_config, run_dir, registry, preset, resume_state, progress, callbacks=(),
                  dataset=None, resumed=False):
    import shutil
    import tempfile
    from contextlib import nullcontext

    from advdl.datasets.distribute import is_chief, make_strategy
    from advdl.datasets.trainer import DataTrainer

    given = dataset is not None  # a caller that passes the dataset has reported its note already
    if run_config.strategy != "default" and not spec.load_class().distributable:
        raise ConfigError(f"{spec.name} does not support --strategy {run_config.strategy}; it trains with the "
                          f"default strategy (one device)")
    if not given:
        registry.dataset(run_config.data)  # an unknown name fails before TensorFlow starts
    # a multi-worker run's folder is the chief's; the other workers write a scratch copy
    chief = is_chief(run_config.strategy)
    scratch = None if chief else Path(tempfile.mkdtemp(prefix="advdl-worker-"))
    try:
        with (runfolder.opened(run_dir, new=resume_state is None and not resumed) if chief
              else nullcontext(runfolder.Guard(scratch, created=False))) as folder:
            run_dir = folder.path
            strategy = make_strategy(run_config.strategy, run_config.replicas)
            model, dataset = build_model(spec, run_config, algo_config, registry, dataset, strategy)
            if dataset.note and not given:
                print(f"advdl: {run_config.data}: {dataset.note}", file=sys.stderr)
            if resume_state is None:
                write_config(run_dir, spec, run_config, algo_config, preset)
            if spec.family == "generative":
                from advdl.api.scoring import scorer_for

                model.run_dir = run_dir
                if model.scored:
                    model.scorer = scorer_for(dataset, registry)
            trainer = DataTrainer(model, dataset, run_config, run_dir, progress, callbacks, strategy)
            folder.started = True
            with writing(run_dir, "batch"):
                run_trainer(trainer, resume_state, run_dir, "batch")
                return finish_on_data(trainer, spec, run_config, run_dir, preset, dataset)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def finish_on_data(trainer, spec, run_config, run_dir, preset, dataset):
    from advdl.api.plots import epoch_curves

    model = trainer.model
    runfolder.write_staged(run_dir, lambda stage: model.save_model(stage / model.model_file))
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


# a .png grid of more images is a picture no viewer opens (10,000 MNIST digits: 2,800 x 28,000 pixels)
MAX_GRID_IMAGES = 10_000
# per generated image: the images, their concatenation, the file's copy, and the noise, labels and features
SAMPLE_COPIES, SAMPLE_EXTRA_BYTES = 4, 4096


def check_sample_count(n, dataset, out=None, what="--n"):
    """Before generating: ``n`` at least 1, its images fit in memory, and a .png ``out`` is a grid of at
    most MAX_GRID_IMAGES (more go to a .npz)."""
    from advdl.api.memory import array_bytes, check_fits

    if n < 1:
        raise ConfigError(f"{what} must be at least 1, got {n}")
    if out is not None and Path(out).suffix == ".png" and n > MAX_GRID_IMAGES:
        raise ConfigError(f"{what} {n:,}: a .png grid holds at most {MAX_GRID_IMAGES:,} images; write a .npz "
                          f"(--out FILE.npz) for more")
    per_image = SAMPLE_COPIES * array_bytes(dataset.image_shape, "float32") + SAMPLE_EXTRA_BYTES
    check_fits(n * per_image, f"{what} {n:,} images", "; ask for fewer")


def check_out(out):
    """--out of sample and translate: a .png (a grid) or a .npz (arrays), checked before generating."""
    if Path(out).suffix not in (".png", ".npz"):
        raise ConfigError(f"--out must end in .png (a grid) or .npz (arrays), got {Path(out).name}")


def _write_output(out, write):
    """``write(path)`` after creating ``out``'s folder; an OSError (a read-only or missing place, a full
    disk) becomes one line."""
    from advdl.api.errors import AdvdlError

    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write(out)
    except OSError as exc:
        raise AdvdlError(f"cannot write {out}: {exc.strerror or exc}{checkpoint.free_space_note(out.parent)}") from None
    return out


def _write_npz(path, **arrays):
    import io

    import numpy as np

    buffer = io.BytesIO()  # in memory, then replaced atomically: never half a file at ``path``
    np.savez(buffer, **arrays)
    checkpoint.write_atomic(path, buffer.getvalue())


def generate_samples(spec, model, dataset, n, label=None, seed=0):
    """(images, labels): labels are the asked ones for a conditional model (cycling 0..K-1 without
    ``label``), -1 for an unconditional one."""
    import numpy as np

    check_sample_count(n, dataset)
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

    from advdl.api.plots import image_grid

    out = Path(out)
    check_out(out)
    if out.suffix == ".png":
        return _write_output(out, lambda path: image_grid(path, images, columns))
    return _write_output(out, lambda path: _write_npz(path, images=images.astype(np.float32), labels=labels))


def translate_images(spec, model, dataset, direction, n, out):
    """Translate the first ``n`` held-out images of a two-domain model's source domain into ``out``:
    a .png of source rows over translation rows (10 wide), or a .npz of sources, images, labels."""
    import numpy as np

    from advdl.api.plots import as_rgb, image_grid

    if not model.directions:
        raise ConfigError(f"translate needs a two-domain model (cyclegan); '{spec.name}' translates nothing")
    if direction not in model.directions:
        raise ConfigError(f"unknown direction '{direction}' for '{spec.name}'; its directions: "
                          f"{', '.join(model.directions)}")
    if n < 1:
        raise ConfigError(f"--n must be at least 1, got {n}")
    out = Path(out)
    check_out(out)
    sources, images, labels = model.translate(direction, n, dataset)  # at most the held-out images
    if out.suffix == ".npz":
        return _write_output(out, lambda path: _write_npz(path, sources=sources.astype(np.float32),
                                                           images=images.astype(np.float32), labels=labels)), len(images)
    if sources.shape[-1] != images.shape[-1]:  # grey beside colour
        sources, images = as_rgb(sources), as_rgb(images)
    columns, rows = min(10, len(images)), []
    for i in range(0, len(images), columns):
        for part in (sources[i:i + columns], images[i:i + columns]):
            rows.append(np.concatenate([part, np.ones((columns - len(part), *part.shape[1:]), np.float32)]))
    grid = np.concatenate(rows)
    return _write_output(out, lambda path: image_grid(path, grid, columns)), len(images)


def score_run(run_dir, registry, n=1000, seed=0):
    """Scores of ``n`` samples against the held-out images, with the real-data floor."""
    from advdl.api.scoring import score, scorer_for

    spec, run_config, model, dataset = load_generative(run_dir, registry)
    images, labels = generate_samples(spec, model, dataset, n, seed=seed)
    scorer = scorer_for(dataset, registry)
    floor_images = dataset.x_train[:len(dataset.x_test)]
    result = score(scorer, images, dataset.x_test, labels if model.conditional else None, floor_images)
    return result | model.extra_scores(scorer, n, seed, dataset)
