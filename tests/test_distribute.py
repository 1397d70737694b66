"""tf.distribute: --strategy mirrored (the CPU split into 2 logical devices) and multiworker (two
local worker processes, TF_CONFIG on loopback) follow the single-device loss trajectory.

Each run is its own process: the logical devices and the multi-worker strategy must be set up
before TensorFlow starts, which in this test process it already has.
"""

import csv
import json
import signal
import socket
import subprocess
import sys
import time

import pytest
from conftest import assert_user_error, run_advdl, subprocess_env

pytestmark = pytest.mark.usefixtures("scorer_cache")

# plain SGD (its update scales with the gradient, unlike Adam's) and no dropout (each replica would
# draw its own masks): the mirrored update must equal the single-device one
MLP = ("mlp", "--data", "synthetic_mnist", "--epochs", 2, "--dropout", 0, "--optimizer", "sgd",
       "--learning-rate", 0.05, "--set", "log_interval=2", "--no-progress")


def rows(run_dir, name="metrics.csv"):
    with open(run_dir / name) as f:
        return list(csv.DictReader(f))


def trajectory(run_dir, metric):
    return [float(r[metric]) for r in rows(run_dir)]


def train(tmp_path, name, *args):
    result = run_advdl("run", *args, "--out", tmp_path / name, cwd=tmp_path, timeout=300)
    assert result.code == 0, str(result)
    return tmp_path / name


@pytest.mark.slow  # 26 s; the default suite keeps the other distribution tests (its 8 minutes)
def test_mirrored_on_two_cpu_devices_follows_the_single_device_run(tmp_path):
    single = train(tmp_path, "single", *MLP)
    mirrored = train(tmp_path, "mirrored", *MLP, "--strategy", "mirrored", "--replicas", 2)
    summary = json.loads((mirrored / "summary.json").read_text())
    assert summary["strategy"] == "mirrored" and summary["replicas"] == 2
    expected, got = trajectory(single, "loss"), trajectory(mirrored, "loss")
    assert len(got) == len(expected) == 16 and expected[0] > 2 * expected[-1]  # it learns
    assert got == pytest.approx(expected, rel=1e-4)
    assert trajectory(mirrored, "accuracy") == pytest.approx(trajectory(single, "accuracy"), abs=1e-6)
    assert summary["test_accuracy"] == pytest.approx(json.loads((single / "summary.json").read_text())["test_accuracy"])


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow  # a learning or multi-process run: the default suite stays under 8 minutes
def test_two_local_workers_follow_the_single_device_run(tmp_path):
    single = train(tmp_path, "single", *MLP)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    workers = []
    for index in range(2):
        env = subprocess_env(TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        workers.append(subprocess.Popen(
            [sys.executable, "-m", "advdl", "run", *map(str, MLP), "--strategy", "multiworker",
             "--out", str(tmp_path / f"worker-{index}")], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True))
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], "\n".join(outputs)
    assert "the chief wrote the run folder" in outputs[1]
    assert not (tmp_path / "worker-1").exists()  # only the chief writes a run folder
    chief = tmp_path / "worker-0"
    assert json.loads((chief / "summary.json").read_text())["replicas"] == 2
    assert trajectory(chief, "loss") == pytest.approx(trajectory(single, "loss"), rel=1e-4)


@pytest.mark.slow  # a learning or multi-process run: the default suite stays under 8 minutes
def test_mirrored_autoencoder_follows_the_single_device_run_and_resumes_exactly(tmp_path):
    args = ("autoencoder", "--data", "synthetic_mnist", "--epochs", 2, "--set", "log_interval=4", "--no-progress",
            "--strategy")
    single = train(tmp_path, "single", *args, "default")
    mirrored = train(tmp_path, "mirrored", *args, "mirrored", "--replicas", 2)
    # two epochs of float sums in another order drift apart by ~0.2% at most
    assert trajectory(mirrored, "loss") == pytest.approx(trajectory(single, "loss"), rel=5e-3)
    assert (mirrored / "autoencoder.keras").is_file() and (mirrored / "learning_curves.png").is_file()

    # Ctrl-C after the first epoch's checkpoint, then --resume: the same numbers as without the stop
    stopped = tmp_path / "stopped"
    proc = subprocess.Popen([sys.executable, "-m", "advdl", "run", *map(str, args), "mirrored", "--replicas", "2",
                             "--out", str(stopped)], cwd=tmp_path, env=subprocess_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not list(stopped.glob("checkpoints/*.ckpt")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=120)[0]
    assert "Resume with: advdl run --resume" in output, output
    resumed = run_advdl("run", "--resume", stopped, "--no-progress", cwd=tmp_path, timeout=300)
    assert resumed.code == 0, str(resumed)
    assert rows(stopped, "epochs.csv")[-1]["loss"] == rows(mirrored, "epochs.csv")[-1]["loss"]
    assert rows(stopped, "epochs.csv")[-1]["test_mse"] == rows(mirrored, "epochs.csv")[-1]["test_mse"]


@pytest.mark.slow  # 22 s
def test_mirrored_gan_stays_near_the_single_device_run(tmp_path):
    """Each replica draws its own noise, so a GAN's trajectory is near, not equal."""
    args = ("dcgan", "--data", "synthetic_mnist", "--epochs", 1, "--set", "log_interval=4", "--no-progress")
    single = train(tmp_path, "single", *args)
    mirrored = train(tmp_path, "mirrored", *args, "--strategy", "mirrored", "--replicas", 2)
    for metric in ("d_loss", "g_loss"):
        expected, got = trajectory(single, metric)[:4], trajectory(mirrored, metric)[:4]
        assert got == pytest.approx(expected, rel=0.1) and got != expected


@pytest.mark.parametrize("args, message", [
    (("cyclegan", "--data", "synthetic_mnist", "--strategy", "mirrored"), "cyclegan does not support --strategy"),
    (("mlp", "--data", "synthetic_mnist", "--strategy", "multiworker"), "needs TF_CONFIG"),
    (("mlp", "--data", "synthetic_mnist", "--replicas", 2), "replicas applies to --strategy mirrored"),
    (("mlp", "--data", "synthetic_mnist", "--strategy", "mirrored", "--replicas", -1), "replicas must be in 0..256"),
    (("mlp", "--data", "synthetic_mnist", "--strategy", "ring"), "ring"),
])
def test_strategy_mistakes_are_one_line_errors(cli, args, message):
    assert_user_error(cli("run", *args, "--no-progress"), message)


def test_a_malformed_tf_config_is_a_one_line_error(cli, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", "{not json")
    assert_user_error(cli("run", "mlp", "--data", "synthetic_mnist", "--strategy", "multiworker"), "TF_CONFIG must be JSON")
