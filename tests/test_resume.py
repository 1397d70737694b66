"""Exact resume and reproducibility: an interrupted run, resumed, ends exactly like an
uninterrupted one; the same seed and config give the same numbers."""

import csv
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from advdl.api.errors import RunInterrupted
from advdl.loading.manager import get_registry
from advdl.runs import checkpoint
from advdl.runs.start import resume
from advdl.testing import read_summary

SMALL_DQN = dict(steps=3000, hidden_sizes=(32, 32), learning_starts=300, train_freq=50, gradient_steps=8,
                 target_update_interval=16, batch_size=32)
RUN_SETTINGS = ("eval_interval=1000", "checkpoint_interval=1000", "log_interval=250", "keep_best=true")


def run_small(name, out, callbacks=(), seed=0, env=None, vec="sync", **hyperparameters):
    """A few-second run: DQN with a small network on CartPole, or Q-learning on the Q-world."""
    from advdl.runs.start import train
    from advdl.settings.resolve import resolve

    registry = get_registry()
    spec = registry.algorithm(name)
    hyper = {"dqn": {k: v for k, v in SMALL_DQN.items() if k != "steps"},
             "a2c": {"n_envs": 4, "n_steps": 7, "hidden_sizes": (16,), "learning_rate": 3e-3},
             "reinforce-baseline": {"hidden_sizes": (16,)}}.get(name, {}) | hyperparameters
    env = env or ("CartPole-v1" if name in ("dqn", "a2c", "reinforce-baseline") else "advdl/QWorld-v0")
    run_flags = {"steps": 3000, "seed": seed, "vec": vec, **dict(s.split("=") for s in RUN_SETTINGS)}
    run_config, algo_config, preset = resolve(spec, env=env, preset="", run_flags=run_flags, hyper_flags=hyper)
    return train(spec, run_config, algo_config, out, registry, preset, callbacks=callbacks)


class StopAt:
    """Does what Ctrl-C does (request a stop) once a given step is logged."""

    def __init__(self, step):
        self.step = step

    def on_log(self, trainer, row):
        if trainer.env_steps >= self.step:
            trainer.request_stop()


def rows(path, drop=("wall_seconds", "steps_per_second")):
    with open(path, newline="") as fh:
        return [{k: v for k, v in r.items() if k not in drop} for r in csv.DictReader(fh)]


def assert_same_run(a, b):
    for name in ("episodes.csv", "metrics.csv", "evaluations.csv"):
        assert rows(a / name) == rows(b / name), name
    sa, sb = read_summary(a), read_summary(b)
    assert sa["eval"] == sb["eval"] and sa["kept_best"] == sb["kept_best"]
    assert sa["env_steps"] == sb["env_steps"] and sa["episodes"] == sb["episodes"]


@pytest.fixture(scope="module")
def uninterrupted_dqn(tmp_path_factory):
    out = tmp_path_factory.mktemp("dqn-full")
    run_small("dqn", out)
    return out


@pytest.mark.parametrize("stop_at", [1250, 1750])
def test_interrupted_and_resumed_dqn_ends_exactly_like_uninterrupted(tmp_path, uninterrupted_dqn, stop_at):
    with pytest.raises(RunInterrupted):
        run_small("dqn", tmp_path, callbacks=[StopAt(stop_at)])
    assert not (tmp_path / "summary.json").exists()
    assert checkpoint.list_checkpoints(tmp_path / "checkpoints")[-1].name == f"step-{stop_at:010d}.ckpt"
    resume(tmp_path, get_registry(), progress=False)
    assert_same_run(uninterrupted_dqn, tmp_path)
    import keras

    full = keras.models.load_model(uninterrupted_dqn / "model.keras").get_weights()
    resumed = keras.models.load_model(tmp_path / "model.keras").get_weights()
    for x, y in zip(full, resumed):
        np.testing.assert_array_equal(x, y)


def test_same_seed_same_numbers(tmp_path, uninterrupted_dqn):
    run_small("dqn", tmp_path)
    assert_same_run(uninterrupted_dqn, tmp_path)


def test_another_seed_other_numbers(tmp_path, uninterrupted_dqn):
    run_small("dqn", tmp_path, seed=1)
    assert rows(uninterrupted_dqn / "episodes.csv") != rows(tmp_path / "episodes.csv")


def interrupt_and_resume(name, tmp_path, stop_at=1500, **settings):
    """Run ``name`` uninterrupted and cut at ``stop_at`` then resumed; return the cut run's last checkpoint step."""
    run_small(name, tmp_path / "full", **settings)
    with pytest.raises(RunInterrupted):
        run_small(name, tmp_path / "cut", callbacks=[StopAt(stop_at)], **settings)
    step = int(checkpoint.list_checkpoints(tmp_path / "cut" / "checkpoints")[-1].name[5:15])
    resume(tmp_path / "cut", get_registry(), progress=False)
    assert_same_run(tmp_path / "full", tmp_path / "cut")
    return step


def test_on_policy_a2c_resumes_exactly_mid_rollout(tmp_path):
    assert interrupt_and_resume("a2c", tmp_path) % 28 != 0  # 4 envs x 7 steps: the cut falls inside a rollout


def test_async_envs_give_the_sync_numbers_and_resume_exactly(tmp_path):
    """Each environment in its own subprocess: the same steps, so the same run as in one process;
    the subprocesses' environments (RNG included) are part of the checkpoint."""
    run_small("a2c", tmp_path / "sync")
    interrupt_and_resume("a2c", tmp_path, vec="async")
    assert_same_run(tmp_path / "sync", tmp_path / "full")


@pytest.mark.slow  # a learning or multi-process run: the default suite stays under 8 minutes
def test_ctrl_c_of_the_process_group_with_async_envs_checkpoints_and_resumes(tmp_path):
    """A terminal's Ctrl-C reaches the environment subprocesses too: they must leave it to the run."""
    out = tmp_path / "run"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen(
        [sys.executable, "-m", "advdl", "run", "a2c", "--env", "CartPole-v1", "--steps", "1000000", "--vec", "async",
         "--n-envs", "2", "--out", str(out), "--no-progress", "--set", "log_interval=500", "--set", "eval_interval=0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        assert wait_for(lambda: (out / "metrics.csv").exists() and len(rows(out / "metrics.csv")) >= 3, 120)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Resume with: advdl run --resume" in err and "Traceback" not in err
    step = int(checkpoint.list_checkpoints(out / "checkpoints")[-1].name[5:15])
    done = subprocess.run([sys.executable, "-m", "advdl", "run", "a2c", "--resume", str(out), "--steps",
                           str(step + 1000), "--no-progress"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert read_summary(out)["env_steps"] == step + 1000


def test_continuous_a2c_with_sde_and_normalisation_resumes_exactly(tmp_path):
    # the noise matrices, their step counter and both running statistics are part of the state
    interrupt_and_resume("a2c", tmp_path, env="Pendulum-v1", sde=True, sde_sample_freq=3, normalize_obs=True,
                         normalize_reward=True)


@pytest.mark.slow  # the default suite resumes the episodes collector mid-episode with the book's A2C
def test_monte_carlo_reinforce_resumes_exactly_mid_episode(tmp_path):
    interrupt_and_resume("reinforce-baseline", tmp_path)


def test_tabular_qlearning_resumes_exactly(tmp_path):
    interrupt_and_resume("qlearning", tmp_path)
    np.testing.assert_array_equal(np.load(tmp_path / "full" / "model.npz")["q_table"],
                                  np.load(tmp_path / "cut" / "model.npz")["q_table"])


def test_resume_of_a_finished_run_asks_for_more_steps(tmp_path):
    from advdl.api.errors import CheckpointError

    run_small("qlearning", tmp_path)
    with pytest.raises(CheckpointError, match="--steps"):
        resume(tmp_path, get_registry(), progress=False)
    summary = resume(tmp_path, get_registry(), steps=4000, progress=False)
    assert summary["env_steps"] == 4000


def test_run_stopped_during_its_final_evaluation_resumes_into_it(tmp_path):
    from advdl.api.errors import CheckpointError

    run_small("qlearning", tmp_path)
    summary = read_summary(tmp_path)
    (tmp_path / "summary.json").unlink()
    with pytest.raises(CheckpointError, match="--steps must exceed"):
        resume(tmp_path, get_registry(), steps=2000, progress=False)
    assert resume(tmp_path, get_registry(), progress=False)["eval"] == summary["eval"]


def wait_for(predicate, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


DQN_RUN = ("dqn", "--env", "CartPole-v1", "--set", "learning_starts=500", "--set", "train_freq=100",
           "--set", "gradient_steps=4")
QLEARNING_RUN = ("qlearning", "--env", "FrozenLake-v1")  # no TensorFlow: the same signal path in seconds


@pytest.mark.parametrize("sig, run", [pytest.param(signal.SIGINT, DQN_RUN, marks=pytest.mark.slow, id="SIGINT-dqn"),
                                      pytest.param(signal.SIGTERM, QLEARNING_RUN, id="SIGTERM-qlearning")])
def test_signal_writes_a_checkpoint_and_the_cli_resumes(tmp_path, sig, run):
    """The in-process resume tests cover each algorithm's state; this is the real process: the
    signal, the checkpoint it writes, exit code 130 and the one-line resume hint."""
    out = tmp_path / "run"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen(
        [sys.executable, "-m", "advdl", "run", *run, "--steps", "50000000", "--out", str(out), "--no-progress",
         "--set", "log_interval=500", "--set", "eval_interval=0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert wait_for(lambda: (out / "metrics.csv").exists() and len(rows(out / "metrics.csv")) >= 3, 120)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Resume with: advdl run --resume" in err and "Traceback" not in err
    saved = checkpoint.list_checkpoints(out / "checkpoints")
    assert saved
    step = int(saved[-1].name[5:15])
    done = subprocess.run([sys.executable, "-m", "advdl", "run", run[0], "--resume", str(out),
                           "--steps", str(step + 700), "--no-progress"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = read_summary(out)
    assert summary["env_steps"] == step + 700
    metric_steps = [int(r["env_steps"]) for r in rows(out / "metrics.csv")]
    assert metric_steps == sorted(set(metric_steps))  # no row repeated across the resume


def test_corrupt_checkpoint_is_reported(tmp_path):
    from advdl.api.errors import CheckpointError

    with pytest.raises(RunInterrupted):
        run_small("qlearning", tmp_path, callbacks=[StopAt(1000)])
    path = checkpoint.list_checkpoints(tmp_path / "checkpoints")[-1]
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt"):
        resume(tmp_path, get_registry(), progress=False)
    path.write_bytes(bytes(data[:40]))
    with pytest.raises(CheckpointError, match="corrupt"):
        resume(tmp_path, get_registry(), progress=False)
