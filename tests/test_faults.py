"""Faults: a run killed (SIGKILL) at random moments leaves a loadable run folder and, resumed,
ends with exactly the numbers of an uninterrupted run; an unwritable run folder, an --out under a
file, a nearly full disk get one clear line before training; a save failing on a full disk
leaves the last checkpoint intact and the run resumable.

The kill tests start ``advdl run`` in a subprocess and SIGKILL it at moments drawn from a seeded
RNG: during start-up (the first process always: before any checkpoint, often before config.yaml),
in training between checkpoints, as soon as a checkpoint's temp file shows (inside the write),
and last once after the final checkpoint (final evaluation, model, plots, summary.json). After
each kill the folder is checked, then ``--resume`` (before config.yaml: the same command)
continues it and is killed again; at the end it finishes and must equal an uninterrupted run. The
subprocess runs advdl's unchanged CLI with ``os.fsync`` of write_atomic's temp files slowed by
5 ms (Linux), which widens the moment a checkpoint exists only as a temp file. 2 generative kills
(each restart starts TensorFlow) by default; 5 and 20 RL kills and 20 generative ones with ``pytest -m slow``.
"""

import csv
import errno
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import assert_user_error, subprocess_env

from advdl.api import files
from advdl.api.errors import RunFolderError
from advdl.loading.manager import get_registry
from advdl.runs import checkpoint
from advdl.runs.logs import truncate_csv
from advdl.runs.start import read_run, resume
from advdl.testing import read_summary

TEMP = re.compile(r"^\..+\.tmp-\d+$")
SLOW_TEMP_WRITES = Path("/proc/self/fd").is_dir()  # else BOOT cannot see which file an fsync is for
BOOT = """
import os, runpy, time
_fsync = os.fsync
def fsync(fd):
    try:
        slow = '.tmp-' in os.readlink(f'/proc/self/fd/{fd}')
    except OSError:
        slow = False
    if slow:
        time.sleep(0.005)
    _fsync(fd)
os.fsync = fsync
runpy.run_module('advdl', run_name='__main__', alter_sys=True)
"""


@dataclass(frozen=True)
class Family:
    args: tuple  # after `advdl run`
    total: int  # env steps (RL) or batches of the finished run
    interval: int  # checkpoint interval
    model: str
    logs: tuple
    drop: tuple  # wall-time columns


RL = Family(("qlearning", "--env", "FrozenLake-v1", "--steps", 30_000, "--checkpoint-interval", 300,
             "--eval-interval", 10_000, "--eval-episodes", 20, "--final-eval-episodes", 100,
             "--set", "log_interval=1000"),
            30_000, 300, "model.npz", ("episodes.csv", "metrics.csv", "evaluations.csv"),
            ("wall_seconds", "steps_per_second"))
GENERATIVE = Family(("autoencoder", "--data", "synthetic_mnist", "--epochs", 3, "--checkpoint-interval", 3,
                     "--set", "log_interval=3"),
                    189, 3, "autoencoder.keras", ("metrics.csv", "epochs.csv"), ("wall_seconds", "images_per_second"))


@dataclass
class Timing:
    startup: float  # process start to its first checkpoint
    step: float  # seconds per env step or batch after that
    final: float  # last checkpoint to summary.json: final evaluation, model, plots


class Runner:
    """Starts `advdl run` for one run folder, logs each process's output to its own file."""

    def __init__(self, family, out, logs):
        self.family, self.out, self.logs, self.count = family, out, logs, 0

    def start(self, resume=None):
        args = ["run", "--resume", self.out] if resume else ["run", *self.family.args, "--out", self.out]
        self.count += 1
        log = self.logs / f"process-{self.count}.log"
        with open(log, "w") as fh:
            proc = subprocess.Popen([sys.executable, "-c", BOOT, *map(str, args), "--no-progress"], stdout=fh,
                                    stderr=subprocess.STDOUT, env=subprocess_env())
        proc.log, proc.resumed_at = log, self.last_step()
        return proc

    def checkpointed(self, proc):
        """True once ``proc`` has written a checkpoint of its own."""
        return self.last_step() > proc.resumed_at

    def writing(self, proc):
        """True while ``proc`` writes a checkpoint (its temp file is there)."""
        folder = self.out / "checkpoints"
        return folder.is_dir() and any(p.name.endswith(f".tmp-{proc.pid}") for p in folder.iterdir())

    def last_step(self):
        saved = checkpoint.list_checkpoints(self.out / "checkpoints")
        return int(saved[-1].stem[5:]) if saved else 0


def wait(predicate, proc, timeout=300, poll=0.005):
    """Poll ``predicate`` every ``poll`` seconds; False if ``proc`` exits first."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if predicate():
            return True
        if proc.poll() is not None:
            return predicate()
        time.sleep(poll)
    raise AssertionError(f"timed out; see {proc.log}")


def alive_for(proc, seconds):
    """Sleep ``seconds``; True if ``proc`` is still running then."""
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return True
    return False


def kill(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def reference(family, out, logs):
    """An uninterrupted run, timed by its phases."""
    runner = Runner(family, out, logs)
    started = time.perf_counter()
    proc = runner.start()
    assert wait(partial(runner.checkpointed, proc), proc), proc.log.read_text()
    first, first_step = time.perf_counter(), runner.last_step()
    assert wait(lambda: runner.last_step() == family.total, proc), proc.log.read_text()
    trained = time.perf_counter()
    assert wait(lambda: (out / "summary.json").exists(), proc), proc.log.read_text()
    timing = Timing(first - started, (trained - first) / (family.total - first_step), time.perf_counter() - trained)
    assert proc.wait(timeout=300) == 0, proc.log.read_text()
    return timing


def inspect(out, family):
    """Check a killed run's folder; return what the kill left there (for the report)."""
    if not (out / "config.yaml").exists():
        return ["no config.yaml yet"]
    read_run(out, get_registry())  # parses and validates
    folder = out / "checkpoints"
    saved = checkpoint.list_checkpoints(folder)
    for path in saved:
        state = checkpoint.load(path)  # every checkpoint present loads
        assert state["env_steps" if "env_steps" in state else "step"] == int(path.stem[5:])
    others = [p for p in folder.iterdir() if p not in saved] if folder.is_dir() else []
    assert all(TEMP.match(p.name) for p in others), others  # nothing else that could pass for a checkpoint
    left = ["no checkpoint yet"] if not saved else []
    if others or any(TEMP.match(p.name) for p in out.iterdir()):
        left.append("a temp file")
    if any((out / n).exists() and (out / n).read_bytes()[-1:] not in (b"", b"\n") for n in family.logs):
        left.append("a torn CSV line")
    return left


def rows(path, drop):
    with open(path, newline="") as fh:
        return [{k: v for k, v in r.items() if k not in drop} for r in csv.DictReader(fh)]


def kill_and_resume(family, tmp_path, kills, seed):
    rng = random.Random(seed)
    logs = tmp_path / "logs"
    logs.mkdir()
    began = time.perf_counter()
    timing = reference(family, tmp_path / "reference", logs)
    out = tmp_path / "run"
    runner, moments, left = Runner(family, out, logs), Counter(), Counter()
    # a kill in training lands within 1.5 checkpoint intervals after its process's first checkpoint: together
    # the kills advance the run at most 2.5 intervals each, which leaves it unfinished
    assert 2.5 * family.interval * kills < family.total
    for k in range(kills + 1):
        proc = runner.start(resume=(out / "config.yaml").exists())
        moment = ("start-up" if k == 0 else "final phase" if k == kills
                  else rng.choices(["start-up", "training", "a write"], [1, 2, 1])[0])
        if moment == "a write" and not SLOW_TEMP_WRITES:
            moment = "training"
        if moment == "final phase":  # after the last checkpoint: final evaluation, model, plots, summary.json
            assert wait(lambda: runner.last_step() == family.total, proc), proc.log.read_text()
            delay = rng.uniform(0, timing.final)
        elif moment == "start-up":  # before the process's first checkpoint (some before config.yaml)
            delay = rng.uniform(0, timing.startup)
        else:  # training: between checkpoints, or as soon as a checkpoint's temp file shows
            assert wait(partial(runner.checkpointed, proc), proc), proc.log.read_text()
            if moment == "a write":
                assert wait(partial(runner.writing, proc), proc, poll=0.0005), proc.log.read_text()
            delay = rng.uniform(0, 1.5 * family.interval * timing.step) if moment == "training" else 0
        if alive_for(proc, delay):
            kill(proc)
            moments[moment] += 1
            left.update(inspect(out, family))
        else:
            assert k == kills and proc.returncode == 0, proc.log.read_text()
            moments["none: finished first"] += 1
    if not (out / "summary.json").exists():
        proc = runner.start(resume=(out / "config.yaml").exists())
        assert proc.wait(timeout=600) == 0, proc.log.read_text()
    for path in logs.iterdir():
        assert "Traceback" not in path.read_text(), path.read_text()
    names = {p.name for p in out.iterdir()}
    assert {"config.yaml", "summary.json", family.model, "checkpoints", *family.logs} <= names
    assert not [p for p in out.rglob("*") if TEMP.match(p.name)]  # stray temp files were cleaned up
    for name in family.logs:
        assert rows(tmp_path / "reference" / name, family.drop) == rows(out / name, family.drop), name
    print(f"\n{family.args[0]}: {runner.count} processes in {time.perf_counter() - began:.1f} s (reference: first "
          f"checkpoint after {timing.startup:.2f} s, {timing.step * family.interval * 1000:.0f} ms per checkpoint "
          f"interval, final phase {timing.final:.2f} s); kills in {dict(moments)}; they left {dict(left)}")
    return read_summary(tmp_path / "reference"), read_summary(out)


@pytest.mark.slow  # 30 s: the default suite keeps the signal test (tests/test_resume.py) for its 8 minutes
@pytest.mark.parametrize("kills", [5, 20])
def test_rl_run_killed_at_random_moments_resumes_to_the_uninterrupted_numbers(tmp_path, kills):
    expected, summary = kill_and_resume(RL, tmp_path, kills, seed=kills)
    for key in ("env_steps", "episodes", "terminated_episodes", "eval", "evaluations"):
        if key == "evaluations":
            strip = [{k: v for k, v in e.items() if k != "wall_seconds"} for e in summary[key]]
            assert strip == [{k: v for k, v in e.items() if k != "wall_seconds"} for e in expected[key]]
        else:
            assert summary[key] == expected[key], key
    q = [np.load(tmp_path / d / "model.npz")["q_table"] for d in ("reference", "run")]
    np.testing.assert_array_equal(*q)


# slow: each restart starts TensorFlow. The default suite keeps the same check of the shared code: the RL run
# killed at random moments (the one loop skeleton's logs and checkpoints) and the dataset runs' exact resumes
@pytest.mark.slow
@pytest.mark.parametrize("kills", [2, 20])
def test_generative_run_killed_at_random_moments_resumes_to_the_uninterrupted_numbers(tmp_path, kills):
    expected, summary = kill_and_resume(GENERATIVE, tmp_path, kills, seed=100 + kills)
    assert summary["test_mse"] == expected["test_mse"] and summary["steps"] == expected["steps"] == GENERATIVE.total


# -- the pieces: atomic writes, temp files, torn CSV lines --------------------------------------------
def failing_writes(after_bytes=10, error=errno.ENOSPC, match=".ckpt"):
    """An ``open`` for advdl.runs.checkpoint whose files named like ``match`` take ``after_bytes`` bytes, then
    fail the way a full disk does."""

    class Full:
        def __init__(self, fh):
            self.fh = fh

        def write(self, data):
            self.fh.write(data[:after_bytes])
            raise OSError(error, os.strerror(error))

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    def fake_open(path, mode="r", *args, **kwargs):
        fh = open(path, mode, *args, **kwargs)
        return Full(fh) if match in str(path) and "w" in mode else fh

    return fake_open


def test_a_failed_atomic_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "step-0000000010.ckpt"
    checkpoint.write_atomic(path, b"old contents")
    monkeypatch.setattr(files, "open", failing_writes(), raising=False)
    with pytest.raises(RunFolderError, match=r"cannot write .*step-0000000010.ckpt: No space left on device \(.* free"):
        checkpoint.write_atomic(path, b"new contents, longer than ten bytes")
    assert path.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_stray_temp_files_are_not_checkpoints_and_a_resume_removes_them(tmp_path):
    from test_resume import StopAt, run_small

    from advdl.api.errors import RunInterrupted

    with pytest.raises(RunInterrupted):
        run_small("qlearning", tmp_path, callbacks=[StopAt(1000)])
    folder = tmp_path / "checkpoints"
    stray = [folder / ".step-0000002000.ckpt.tmp-999999999", tmp_path / ".summary.json.tmp-999999999"]
    for path in stray:
        path.write_bytes(b"half a checkpoint")
    assert [p.name for p in checkpoint.list_checkpoints(folder)] == ["step-0000001000.ckpt"]
    resume(tmp_path, get_registry(), progress=False)
    assert not any(p.exists() for p in stray)


HEADER, ROW1, ROW2 = "episode,env_steps,return,length,terminated\r\n", "1,12,1.0,12,1\r\n", "2,30,0.0,18,0\r\n"


@pytest.mark.parametrize("content, kept", [
    (HEADER + ROW1 + ROW2 + "3", HEADER + ROW1 + ROW2),  # killed after the episode number
    (HEADER + ROW1 + ROW2 + "3,4", HEADER + ROW1 + ROW2),  # inside env_steps: 4 would pass for a step <= 30
    (HEADER + ROW1 + ROW2 + "3,45,0.0,", HEADER + ROW1 + ROW2),
    (HEADER + ROW1 + ROW2 + "3,45,0.0,15,0\r", HEADER + ROW1 + ROW2),
    ("epis", ""),  # the header itself (the log starts again with a new one)
])
def test_a_torn_last_csv_line_is_dropped_on_resume(tmp_path, content, kept):
    path = tmp_path / "episodes.csv"
    path.write_bytes(content.encode())
    truncate_csv(path, "env_steps", 30)
    assert path.read_bytes() == kept.encode()
    truncate_csv(path, "env_steps", 12)
    assert path.read_bytes() == kept.replace(ROW2, "").encode()


def test_resume_before_the_first_checkpoint_starts_over_from_config_yaml(tmp_path, capsys):
    """A run killed before its first checkpoint: --resume runs it from its config.yaml and ends as the
    uninterrupted run does, dropping what the killed process had logged."""
    from test_resume import assert_same_run, run_small

    run_small("qlearning", tmp_path / "full")
    killed = tmp_path / "killed"
    killed.mkdir()
    shutil.copy(tmp_path / "full" / "config.yaml", killed)
    (killed / "episodes.csv").write_text("episode,env_steps,return,length,terminated\r\n1,12,1.0,12,1\r\n2,3")
    resume(killed, get_registry(), progress=False)
    assert "stopped before its first checkpoint: starting it over" in capsys.readouterr().err
    assert_same_run(tmp_path / "full", killed)


# -- an unwritable run folder, --out under a file, a full disk --------------------------------------
QRUN = ("run", "qlearning", "--env", "advdl/QWorld-v0", "--steps", 3000, "--checkpoint-interval", 1000,
        "--no-progress")


def test_out_under_a_file_is_one_clear_line(cli, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    assert_user_error(cli(*QRUN, "--out", tmp_path / "file" / "run"), "cannot create the run folder",
                      f"{tmp_path / 'file'} is a file")
    assert_user_error(cli(*QRUN, "--out", tmp_path / "file"), "is a file")


def test_a_nearly_full_disk_is_reported_before_training(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "disk_usage", lambda path: SimpleNamespace(total=10**9, used=10**9 - 2**20, free=2**20))
    line = assert_user_error(cli(*QRUN, "--out", tmp_path / "run"), "only 1.0 MB free", str(tmp_path / "run"))
    assert "50.0 MB" in line and not (tmp_path / "run" / "config.yaml").exists()


def read_only(*folders):
    """Make ``folders`` read-only; False where permissions do not stop this process (root)."""
    for folder in folders:
        folder.chmod(0o555)
    try:
        (folders[0] / ".probe").touch()
    except PermissionError:
        return True
    (folders[0] / ".probe").unlink()
    return False


def test_a_read_only_run_folder_is_one_clear_line_before_training(cli, tmp_path):
    out = tmp_path / "run"
    assert cli(*QRUN, "--out", out).code == 0
    (out / "summary.json").unlink()  # to be resumed into its final evaluation
    locked = tmp_path / "locked"
    locked.mkdir()
    try:
        if read_only(locked, out):
            results = [cli(*QRUN, "--out", locked / "new"), cli(*QRUN, "--out", locked),
                       cli("run", "--resume", out, "--no-progress")]
        elif shutil.which("setpriv"):  # root: run advdl without the capability that overrides permissions
            from conftest import CliResult

            def unprivileged(*args):
                proc = subprocess.run(["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--",
                                       sys.executable, "-m", "advdl", *map(str, args)], capture_output=True, text=True,
                                      env=subprocess_env(), timeout=120)
                return CliResult(proc.returncode, proc.stdout, proc.stderr)

            results = [unprivileged(*QRUN, "--out", locked / "new"), unprivileged(*QRUN, "--out", locked),
                       unprivileged("run", "--resume", out, "--no-progress")]
        else:
            pytest.skip("root ignores permissions and setpriv is not there to drop that")
    finally:
        locked.chmod(0o755)
        out.chmod(0o755)
    assert_user_error(results[0], "cannot create the run folder", "Permission denied")
    assert_user_error(results[1], f"the run folder {locked} is not writable: Permission denied")
    assert_user_error(results[2], f"the run folder {out} is not writable")
    assert cli("run", "--resume", out, "--no-progress").code == 0  # writable again: it finishes


def test_a_full_disk_during_a_save_keeps_the_last_checkpoint_and_resume_continues(cli, tmp_path, monkeypatch):
    assert cli(*QRUN, "--out", tmp_path / "full").code == 0
    out = tmp_path / "run"
    real_save, calls = checkpoint.save, []

    def save_then_fill_the_disk(directory, step, state):
        calls.append(step)
        if len(calls) == 2:  # the second checkpoint (step 2000) meets a full disk mid-write
            monkeypatch.setattr(files, "open", failing_writes(after_bytes=100), raising=False)
        return real_save(directory, step, state)

    monkeypatch.setattr(checkpoint, "save", save_then_fill_the_disk)
    assert_user_error(cli(*QRUN, "--out", out), "cannot write", "step-0000002000.ckpt", "No space left on device",
                      "the last complete checkpoint (step 1000) is intact", f"advdl run --resume {out}")
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["step-0000001000.ckpt"]  # no temp file either
    assert checkpoint.load(out / "checkpoints" / "step-0000001000.ckpt")["env_steps"] == 1000
    monkeypatch.setattr(checkpoint, "save", real_save)
    monkeypatch.delattr(files, "open")
    assert cli("run", "--resume", out, "--no-progress").code == 0
    for name in ("episodes.csv", "metrics.csv", "evaluations.csv"):
        drop = ("wall_seconds", "steps_per_second")
        assert rows(tmp_path / "full" / name, drop) == rows(out / name, drop), name


def test_a_full_disk_while_writing_the_logs_is_one_clear_line(tmp_path, monkeypatch):
    """The CSV logs meet the full disk first (a checkpoint syncs them): the same one line."""
    from test_resume import run_small

    import advdl.runs.logs

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    real_sync, synced = advdl.runs.logs.CsvLog.sync, []

    def sync(self):
        synced.append(self)
        if len(synced) > 3:  # the second checkpoint's logs
            monkeypatch.setattr(os, "fsync", full)
        return real_sync(self)

    monkeypatch.setattr(advdl.runs.logs.CsvLog, "sync", sync)
    with pytest.raises(RunFolderError) as raised:
        run_small("qlearning", tmp_path)
    message = str(raised.value)
    assert "No space left on device" in message and str(tmp_path) in message
    assert "the last complete checkpoint (step 1000) is intact" in message
