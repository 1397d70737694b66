"""A run folder nobody can turn against its user: planted links, FIFOs, devices and folders, a second
writer, a non-empty --out, damaged logs and checkpoints. Each case is planted in a real run folder and
run through the CLI in a subprocess; the outcome is asserted exactly (one Error line and nothing outside
the folder changed, or the documented recovery).
"""

import hashlib
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import assert_user_error, run_advdl

from advdl.runs import checkpoint

QWORLD = ("qlearning", "--env", "advdl/QWorld-v0")


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(path):
    """Every entry under ``path`` with its content's checksum (folders as None)."""
    return {str(p.relative_to(path)): None if p.is_dir() else digest(p) for p in sorted(path.rglob("*"))}


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    """An unfinished Q-learning run (config, logs, two checkpoints, model; no summary): resumable."""
    root = tmp_path_factory.mktemp("base")
    out = root / "run"
    result = run_advdl("run", *QWORLD, "--steps", 3000, "--checkpoint-interval", 1000, "--out", out, "--no-progress",
                       cwd=root)
    assert result.code == 0, str(result)
    (out / "summary.json").unlink()
    return out


@pytest.fixture
def run(base_run, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(base_run, copy)
    return copy


def resume(run, *extra, timeout=60):
    return run_advdl("run", "--resume", run, "--no-progress", *extra, cwd=run.parent, timeout=timeout)


@pytest.mark.parametrize("name", ["model.npz", "q_table.csv", "learning_curve.png", "metrics.csv", "episodes.csv",
                                  "config.yaml", "checkpoints/step-0000003000.ckpt"])
def test_a_file_linked_out_of_the_run_folder_is_refused_and_its_target_untouched(run, tmp_path, name):
    target = tmp_path / "users-file.txt"
    target.write_text("the user's own file\n")
    before = digest(target)
    (run / name).unlink()
    (run / name).symlink_to(target)
    line = assert_user_error(resume(run), "symbolic link")
    assert name.split("/")[-1] in line
    assert digest(target) == before and target.read_text() == "the user's own file\n"


@pytest.mark.parametrize("name", ["tensorboard", "checkpoints"])
def test_a_folder_linked_out_of_the_run_folder_is_refused_and_nothing_in_it_changes(run, tmp_path, name):
    elsewhere = tmp_path / "users-folder"
    (run / name).rename(elsewhere)  # the user's folder now holds what looks like the run's files
    (elsewhere / "step-0000000001.ckpt").write_bytes(b"a file named like a checkpoint")
    (run / name).symlink_to(elsewhere, target_is_directory=True)
    before = tree(elsewhere)
    assert_user_error(resume(run), "symbolic link", name)
    assert tree(elsewhere) == before


def test_the_checks_hold_for_eval_too(run, tmp_path):
    (run / "model.npz").unlink()
    (run / "model.npz").symlink_to("/dev/zero")
    assert_user_error(run_advdl("eval", run, cwd=tmp_path), "symbolic link")


def test_a_fifo_in_place_of_a_log_does_not_hang_the_resume(run):
    (run / "episodes.csv").unlink()
    os.mkfifo(run / "episodes.csv")
    started = time.perf_counter()
    assert_user_error(resume(run, timeout=30), "FIFO", "episodes.csv")
    assert time.perf_counter() - started < 20


def test_a_checkpoint_that_is_a_device_or_endless_is_never_read(tmp_path, run):
    from advdl.runs.folder import read_bytes

    with pytest.raises(Exception, match="not a regular file|character device"):
        read_bytes("/dev/zero")
    newest = checkpoint.list_checkpoints(run / "checkpoints")[-1]
    newest.unlink()
    newest.symlink_to("/dev/zero")
    assert_user_error(resume(run), "symbolic link", newest.name)


def test_a_log_replaced_by_a_folder_is_one_line(run):
    (run / "metrics.csv").unlink()
    (run / "metrics.csv").mkdir()
    assert_user_error(resume(run), "metrics.csv", "folder")


def test_a_second_writer_is_refused_naming_the_first(run, tmp_path):
    """The lock is held by another process (here a small Python that takes it and waits); then that
    process is killed with SIGKILL and the kernel's release lets the resume through."""
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from advdl.runs.folder import lock\n"
        f"with lock({str(run)!r}):\n    print('locked', flush=True); time.sleep(60)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert_user_error(resume(run), "in use by another advdl process", f"PID {holder.pid}")
    finally:
        holder.kill()
        holder.wait()
    result = resume(run)
    assert result.code == 0, str(result)


def test_two_resumes_at_once_one_runs_the_other_is_refused(run):
    """Two real ``advdl run --resume`` of one folder at the same moment: one finishes, the other gets one
    line; the logs hold exactly the rows of one run."""
    command = [sys.executable, "-m", "advdl", "run", "--resume", str(run), "--steps", 100_000, "--no-progress"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    procs = [subprocess.Popen(list(map(str, command)), cwd=run.parent, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    codes = sorted(code for _, _, code in results)
    assert codes == [0, 2], results
    refused = next(err for _, err, code in results if code == 2)
    assert "in use by another advdl process" in refused and "Traceback" not in refused
    import csv

    with open(run / "metrics.csv", newline="") as fh:
        steps = [int(r["env_steps"]) for r in csv.DictReader(fh)]
    assert steps == list(range(1000, 100_001, 1000))


@pytest.mark.parametrize("planted", ["a user's file", "/"])
def test_a_new_run_goes_only_into_a_new_or_empty_folder(tmp_path, planted):
    if planted == "/":
        result = run_advdl("run", *QWORLD, "--steps", 300, "--out", "/", cwd=tmp_path)
        assert_user_error(result, "/ is not empty", "choose another --out")
        assert not os.path.exists("/config.yaml") and not os.path.exists("/checkpoints")
        return
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine\n")
    (folder / ".notes.txt.tmp-1").write_text("looks like a temp file, is the user's\n")
    before = tree(folder)
    assert_user_error(run_advdl("run", *QWORLD, "--steps", 300, "--out", folder, cwd=tmp_path), "is not empty")
    assert_user_error(run_advdl("run", *QWORLD, "--steps", 300, "--seeds", "0-1", "--out", folder, cwd=tmp_path),
                      "is not empty")
    assert tree(folder) == before
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_advdl("run", *QWORLD, "--steps", 300, "--out", empty, "--no-progress", cwd=tmp_path).code == 0


def test_a_run_that_fails_before_training_leaves_no_folder(tmp_path):
    out = tmp_path / "never"
    assert_user_error(run_advdl("run", "qlearning", "--env", "CartPole-v1", "--steps", 300, "--out", out, cwd=tmp_path),
                      "cannot run on CartPole-v1")
    assert not out.exists()


def test_a_cut_log_is_reported_on_resume(run):
    text = (run / "metrics.csv").read_text().splitlines(keepends=True)
    (run / "metrics.csv").write_text("".join(text[:2]))  # the header and one of three rows
    result = resume(run)
    assert result.code == 0, str(result)
    assert "metrics.csv: 1 of the 3 rows up to the checkpoint (step 3000) recovered, 2 lost" in result.err


def test_a_damaged_newest_checkpoint_falls_back_to_the_older_one(run):
    older, newest = checkpoint.list_checkpoints(run / "checkpoints")
    data = bytearray(newest.read_bytes())
    data[-10] ^= 0xFF
    newest.write_bytes(bytes(data))
    result = resume(run)
    assert result.code == 0, str(result)
    assert "checksum mismatch" in result.err and f"resuming from the older checkpoint {older.name}" in result.err


@pytest.mark.parametrize("entry, value", [("metric_sums", None), ("evaluations", [[1, 2]]), ("env_steps", -5),
                                          ("recent_returns", ["x"]), ("best", {"agent": {}})])
def test_a_checkpoint_entry_of_the_wrong_type_is_refused_or_the_older_one_used(run, entry, value):
    """The checksum is no defence (anyone can recompute it): the types are checked before use."""
    older, newest = checkpoint.list_checkpoints(run / "checkpoints")
    for path in (newest, older):
        state = checkpoint.load(path)
        state[entry] = value
        path.unlink()
        checkpoint.save(run / "checkpoints", int(path.name[5:15]), state)
    assert_user_error(resume(run), "does not fit this run", f"'{entry}'")
    assert checkpoint.list_checkpoints(run / "checkpoints") == [older, newest]  # nothing new was written


def test_no_file_of_a_fresh_run_folder_holds_a_pickle(run):
    from pickle_scan import pickles_in

    result = resume(run)
    assert result.code == 0, str(result)
    found = {str(p.relative_to(run)): pickles_in(p.read_bytes()) for p in run.rglob("*") if p.is_file()}
    assert not any(found.values()), found


def test_the_pickle_scan_finds_a_pickle_inside_other_bytes():
    import pickle

    from pickle_scan import pickles_in

    blob = np.random.default_rng(0).bytes(200_000)
    assert not pickles_in(blob)
    assert pickles_in(blob[:5000] + pickle.dumps({"a": np.arange(3)}) + blob[5000:])
    assert pickles_in(pickle.dumps(os.system, protocol=2))


FAMILIES = {  # every RL data kind (sync and async envs) and every dataset family, each a tiny run
    "qlearning-sync": ("qlearning", "--env", "FrozenLake-v1", "--steps", 500),
    "qlearning-async": ("qlearning", "--env", "FrozenLake-v1", "--steps", 500, "--vec", "async"),
    "dqn": ("dqn", "--env", "CartPole-v1", "--steps", 300, "--set", "learning_starts=100", "--set", "hidden_sizes=[8]"),
    "a2c-async": ("a2c", "--env", "CartPole-v1", "--steps", 300, "--vec", "async", "--set", "n_envs=2",
                  "--set", "hidden_sizes=[8]"),
    "actor-critic": ("actor-critic", "--env", "CartPole-v1", "--steps", 300, "--set", "hidden_sizes=[8]"),
    "reinforce-baseline": ("reinforce-baseline", "--env", "CartPole-v1", "--steps", 300, "--set", "hidden_sizes=[8]"),
    "mlp": ("mlp", "--data", "synthetic_mnist", "--epochs", 1, "--set", "hidden_sizes=[16]"),
    "autoencoder": ("autoencoder", "--data", "synthetic_mnist", "--epochs", 1, "--set", "filters=[4,8]",
                    "--set", "batch_size=128"),
    "dcgan": ("dcgan", "--data", "synthetic_mnist", "--epochs", 1, "--set", "batch_size=200", "--set", "filters=8"),
}


@pytest.mark.parametrize("family", FAMILIES)
def test_no_file_of_any_familys_run_folder_holds_a_pickle(cli, tmp_path, family, scorer_cache):
    """A checkpoint mid-run (environments mid-episode, replay, rollouts, optimizers) and every other file
    a finished run writes: no pickle stream anywhere, whatever the family."""
    from pickle_scan import pickles_in

    out = tmp_path / "run"
    argv = FAMILIES[family]
    steps = ("--checkpoint-interval", 150) if "--env" in argv else ("--checkpoint-interval", 5)
    result = cli("run", *argv, *steps, "--out", out, "--no-progress")
    assert result.code == 0, str(result)
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(checkpoint.list_checkpoints(out / "checkpoints")) == 2 and len(files) > 8
    found = {str(p.relative_to(out)): pickles_in(p.read_bytes()) for p in files}
    assert not any(found.values()), found
