"""advdl sweep: a real 2x2 grid of Q-learning trials (2 seeds) on an embedded local Ray (the distributed
extra), its ranking, best.yaml, continuing (kept trials, added seeds, a real Ctrl-C), and its errors."""

import csv
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from importlib.util import find_spec

import numpy as np
import pytest
from conftest import assert_user_error, run_advdl, subprocess_env

needs_ray = pytest.mark.skipif(find_spec("ray") is None, reason="the distributed extra (Ray Tune) is not installed")

GRID = ("--grid", "learning_rate=0.05,0.5", "--grid", "exploration_decay=0.99,0.999")
SWEEP = ("sweep", "qlearning", "--env", "FrozenLake-v1", "--steps", 5000, "--set", "final_eval_episodes=200", *GRID)
COMBINATIONS = {(0.05, 0.99), (0.05, 0.999), (0.5, 0.99), (0.5, 0.999)}


def summary(folder, seed):
    return json.loads((folder / f"seed-{seed}" / "summary.json").read_text())


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """OUT of the 2x2 sweep with seeds 0 and 1 (8 trials of 5,000 steps), and the command's output."""
    out = tmp_path_factory.mktemp("sweep") / "out"
    return out, run_advdl(*SWEEP, "--seeds", "0-1", "--out", out, cwd=out.parent, timeout=300)


@needs_ray
def test_sweep_ranks_every_combination_over_its_seeds(swept, cli, tmp_path):
    import yaml

    out, result = swept
    assert result.code == 0, str(result)
    assert result.err.count(": finished in ") == 8 and "embedded local Ray" in result.err
    report = json.loads((out / "sweep.json").read_text())
    assert (report["metric"], report["mode"], report["statistic"], report["seeds"]) == ("eval_mean", "max", "mean", [0, 1])
    rows = report["ranking"]
    assert {(r["combination"]["learning_rate"], r["combination"]["exploration_decay"]) for r in rows} == COMBINATIONS
    for row in rows:  # each trial ran its combination with its seed; the row holds their final evaluations
        folder = out / row["folder"]
        values = []
        for seed in (0, 1):
            config = yaml.safe_load((folder / f"seed-{seed}" / "config.yaml").read_text())
            assert (config["seed"], config["steps"], config["final_eval_episodes"]) == (seed, 5000, 200)
            assert {k: config["hyperparameters"][k] for k in row["combination"]} == row["combination"]
            assert {"model.npz", "q_table.csv", "learning_curve.png", "metrics.csv"} <= {
                p.name for p in (folder / f"seed-{seed}").iterdir()}
            values.append(summary(folder, seed)["eval"]["mean"])
        assert row["metrics"]["eval_mean"]["values"] == values and row["seeds_finished"] == [0, 1]
        assert row["metrics"]["eval_mean"]["mean"] == pytest.approx(np.mean(values))
        assert json.loads((folder / "aggregate.json").read_text())["final_mean"]["values"] == values
    means = [r["metrics"]["eval_mean"]["mean"] for r in rows]
    assert means == sorted(means, reverse=True) and [r["rank"] for r in rows] == [1, 2, 3, 4]
    assert len(set(means)) > 1, "the grid should make a difference on FrozenLake"
    printed = [line.split() for line in result.out.splitlines() if line[:1].isdigit()]
    assert [(float(p[1]), float(p[2]), float(p[3])) for p in printed] == [
        (r["combination"]["learning_rate"], r["combination"]["exploration_decay"], pytest.approx(m, abs=1e-3))
        for r, m in zip(rows, means)]
    with open(out / "sweep.csv") as handle:
        table = list(csv.DictReader(handle))
    assert [(int(t["rank"]), float(t["eval_mean_mean"]), t["folder"]) for t in table] == [
        (r["rank"], pytest.approx(r["metrics"]["eval_mean"]["mean"]), r["folder"]) for r in rows]
    assert len(list((out / "tune").glob("*/*-seed-*"))) == 8  # Ray Tune's own records of the 8 trials

    # best.yaml re-runs the best combination: the same seed gives the same evaluation
    best = rows[0]
    again = cli("run", "qlearning", "--config", out / "best.yaml", "--seed", 1, "--out", tmp_path / "best", "--no-progress")
    assert again.code == 0, str(again)
    rerun = json.loads((tmp_path / "best" / "summary.json").read_text())
    assert rerun["eval"]["mean"] == best["metrics"]["eval_mean"]["values"][1]
    config = yaml.safe_load((tmp_path / "best" / "config.yaml").read_text())
    assert config["hyperparameters"]["learning_rate"] == best["combination"]["learning_rate"]
    assert config["steps"] == 5000


@pytest.mark.slow  # a learning or multi-process run: the default suite stays under 8 minutes
@needs_ray
def test_sweep_continues_keeps_finished_trials_and_reranks(swept, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(swept[0], out)
    folders = [out / r["folder"] for r in json.loads((out / "sweep.json").read_text())["ranking"]]
    before = {(f, s): (f / f"seed-{s}" / "summary.json").stat().st_mtime_ns for f in folders for s in (0, 1)}
    result = run_advdl(*SWEEP, "--seeds", "0-2", "--out", out, cwd=tmp_path, timeout=300)  # one more seed
    assert result.code == 0, str(result)
    assert result.err.count("kept (finished before)") == 8 and result.err.count(": finished in ") == 4
    assert before == {key: (key[0] / f"seed-{key[1]}" / "summary.json").stat().st_mtime_ns for key in before}
    report = json.loads((out / "sweep.json").read_text())
    assert report["seeds"] == [0, 1, 2] and all(r["seeds_finished"] == [0, 1, 2] for r in report["ranking"])

    # all finished: ranked again, by another metric, without starting Ray
    result = run_advdl(*SWEEP, "--seeds", "0-2", "--out", out, "--metric", "wall_seconds", cwd=tmp_path)
    assert result.code == 0, str(result)
    assert "all 12 trials finished before" in result.err and "Ray" not in result.err
    report = json.loads((out / "sweep.json").read_text())
    walls = [r["metrics"]["wall_seconds"]["mean"] for r in report["ranking"]]
    assert report["mode"] == "min" and walls == sorted(walls)
    assert "other settings" in run_advdl(*SWEEP[:-1], "exploration_decay=0.9", "--out", out, cwd=tmp_path).err


@pytest.mark.slow  # 21 s, and racy under load: a 4 s trial may finish before the Ctrl-C
@needs_ray
def test_ctrl_c_stops_trials_with_a_checkpoint_and_the_rerun_resumes_them(tmp_path):
    out = tmp_path / "out"
    args = ("sweep", "qlearning", "--env", "FrozenLake-v1", "--steps", 200_000, "--set", "final_eval_episodes=50",
            "--grid", "learning_rate=0.05,0.5", "--out", out)
    proc = subprocess.Popen([sys.executable, "-m", "advdl", *map(str, args)], cwd=tmp_path, env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not all((f / "seed-0" / "metrics.csv").is_file() for f in _trials(out, 2)):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Sweep interrupted: 2 of 2 trials unfinished" in err and "Traceback" not in err
    for folder in _trials(out, 2):
        _wait_for_lock(folder / "seed-0.lock")  # the stopped run finishes writing its checkpoint
        log = (folder / "seed-0.log").read_text()
        assert "Stopping: writing a checkpoint" in log and "interrupted at step" in log, log
        assert not (folder / "seed-0" / "summary.json").exists()

    result = run_advdl(*args, cwd=tmp_path, timeout=300)
    assert result.code == 0, str(result)
    for folder in _trials(out, 2):
        log = (folder / "seed-0.log").read_text()
        assert log.count("advdl: qlearning on FrozenLake-v1") == 1, log  # resumed, not started again
        assert summary(folder, 0)["env_steps"] == 200_000


@needs_ray
@pytest.mark.slow  # 9 s: a third Ray start in the default run
def test_a_failing_trial_is_reported_and_the_sweep_goes_on(tmp_path):
    out = tmp_path / "out"
    result = run_advdl("sweep", "qlearning", "--env", "FrozenLake-v1", "--steps", 2000, "--set", "final_eval_episodes=20",
                       "--grid", "env_kwargs=[map_name=4x4],[map_name=5x5]", "--out", out, cwd=tmp_path, timeout=300)
    assert result.code == 0, str(result)
    good, bad = json.loads((out / "sweep.json").read_text())["ranking"]
    assert good["combination"] == {"env_kwargs": ["map_name=4x4"]} and good["rank"] == 1
    assert "rank" not in bad and bad["seeds_finished"] == [] and bad["failed"][0]["seed"] == 0
    log = bad["failed"][0]["log"]
    assert f"failed (exit 2): {bad['failed'][0]['error']}; see {log}" in result.err  # advdl run's one-line error
    assert "cannot make FrozenLake-v1" in bad["failed"][0]["error"] and "Traceback" not in open(log).read()
    assert "map_name: 4x4" in (out / "best.yaml").read_text()


def test_every_trial_failing_is_an_error_and_none_finished_an_interruption(tmp_path):
    from advdl.api.errors import RunInterrupted
    from advdl.experiments.results import rank
    from advdl.experiments.sweep import plan
    from advdl.loading.manager import get_registry

    registry = get_registry()
    sweep = plan(registry.algorithm("qlearning"), registry, env="FrozenLake-v1", grid=["gamma=0.9,0.99"],
                 out=tmp_path)
    with pytest.raises(RunInterrupted, match="2 of 2 trials unfinished"):
        rank(sweep, {})
    failed = {(i, 0): {"status": "failed", "log": f"/logs/{i}.log", "error": "boom"} for i in (0, 1)}
    with pytest.raises(Exception, match=r"every trial failed; the first, gamma=0.9 seed 0: boom \(log: /logs/0.log\)"):
        rank(sweep, failed)


def _trials(out, count):
    folders = sorted((out / "trials").glob("*-learning_rate=*")) if (out / "trials").is_dir() else []
    return folders if len(folders) == count else [out / "missing"] * count


def _wait_for_lock(path, timeout=60):
    with open(path, "a") as handle:
        deadline = time.time() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError:
                assert time.time() < deadline, f"{path} still locked"
                time.sleep(0.1)


def test_settings_are_checked_before_ray_starts(cli, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # any import of ray would fail: these errors come first
    base = ("sweep", "qlearning", "--env", "FrozenLake-v1", "--out", tmp_path / "never")
    assert_user_error(cli(*base, "--grid", "learning_rat=0.1,0.5"), "--grid", "learning_rat", "Did you mean 'learning_rate'")
    assert_user_error(cli(*base, "--grid", "learning_rate=0.1,fast"), "learning_rate", "expected float", "fast")
    assert_user_error(cli(*base, "--grid", "gamma=0.5,2"), "gamma=2", "gamma must be in (0, 1]")
    assert_user_error(cli(*base, "--grid", "learning_rate=0.1,0.1"), "given twice")
    assert_user_error(cli(*base, "--grid", "seed=1,2"), "--seeds")
    assert_user_error(cli(*base, "--set", "gamma=0.5", "--grid", "gamma=0.9,0.99"), "both fixed", "swept")
    assert_user_error(cli(*base, "--metric", "eval_men"), "Did you mean 'eval_mean'")
    assert_user_error(cli(*base, "--seeds", "3-1"), "--seeds")
    assert_user_error(cli("sweep", "qlearning", "--data", "mnist"), "--env")
    assert_user_error(cli("sweep", "qlearning", "--env", "FrozenLake-v2"), "Did you mean 'FrozenLake-v1'")
    assert_user_error(cli("sweep", "mlp", "--data", "mnst", "--grid", "dropout=0,0.2"), "Did you mean 'mnist'")
    assert_user_error(cli("sweep", "qlearnin", "--env", "FrozenLake-v1"), "Did you mean 'qlearning'")
    assert not (tmp_path / "never").exists()


def test_missing_ray_names_the_extra(cli, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    for name in ("RAY_USAGE_STATS_ENABLED", "RAY_AIR_NEW_OUTPUT", "TUNE_DISABLE_SIGINT_HANDLER"):
        monkeypatch.setenv(name, os.environ.get(name, "0"))  # the sweep sets them before importing ray: undone after
    result = cli(*SWEEP, "--out", tmp_path / "out")
    assert assert_user_error(result, "") == 'Error: advdl sweep needs Ray Tune: pip install "advdl[distributed]"'
    assert not (tmp_path / "out").exists()


def test_a_run_stopped_before_its_first_checkpoint_starts_again(tmp_path):
    from advdl.experiments.seeds import seed_command

    folder = tmp_path / "seed-3"
    folder.mkdir()
    (folder / "config.yaml").write_text("algorithm: qlearning\n")
    command = seed_command("qlearning", tmp_path, 3)
    assert "--resume" not in command and command[-5:] == ["--seed", "3", "--out", str(folder), "--no-progress"]
    assert not folder.exists()
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "config.yaml").write_text("algorithm: qlearning\n")
    (folder / "checkpoints" / "step-0000000100.ckpt").write_bytes(b"")
    assert seed_command("qlearning", tmp_path, 3)[-3:-1] == ["--resume", str(folder)]
    (folder / "summary.json").write_text("{}")
    assert seed_command("qlearning", tmp_path, 3) is None


NO_HEAVY_PROBE = """
import sys
from advdl.commands.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print("HEAVY=" + ",".join(m for m in ("ray", "tensorflow", "keras") if m in sys.modules), file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [("--help",), ("list",), ("sweep", "--help"),
                                  ("sweep", "qlearning", "--env", "FrozenLake-v1", "--grid", "gama=0.9")], ids=" ".join)
def test_help_listing_and_checks_import_neither_ray_nor_tensorflow(tmp_path, argv):
    proc = subprocess.run([sys.executable, "-c", NO_HEAVY_PROBE, *argv], cwd=tmp_path, env=subprocess_env(),
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.stderr.strip().splitlines()[-1] == "HEAVY=", proc.stderr
