"""Shared helpers: the advdl CLI in-process and in a subprocess, fake plugin distributions."""

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

MAX_WORKERS = 8  # each worker imports TensorFlow (about 1 GB); past 8 the 36 test files gain little


def pytest_xdist_auto_num_workers(config):
    """``-n auto`` (setup.cfg): one worker per core this process may run on (taskset and cgroup CPU
    sets included, which psutil's count ignores), at most MAX_WORKERS. With PYTEST_XDIST_AUTO_NUM_WORKERS
    set, None hands the choice to xdist's own hook, which reads it."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, MAX_WORKERS))


ADVDL_SWITCHES = ("ADVDL_PLUGINS", "ADVDL_BLOCK_PLUGINS", "ADVDL_STRICT_PLUGINS", "ADVDL_TRACE_HOOKS",
                  "ADVDL_PLUGIN_TIMEOUT", "ADVDL_DEBUG")


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def error_lines(self):
        return [line for line in self.err.splitlines() if line.startswith("Error:")]

    @property
    def error(self):
        """The one ``Error: ...`` line (asserting there is exactly one)."""
        assert len(self.error_lines) == 1, f"expected exactly one 'Error:' line on stderr, got:\n{self.err}"
        return self.error_lines[0]

    def __str__(self):
        return f"exit code {self.code}\n--- stdout ---\n{self.out}\n--- stderr ---\n{self.err}"


def assert_user_error(result, *substrings):
    """One ``Error:`` line naming ``substrings``, no traceback, non-zero exit code."""
    assert result.code not in (0, None), f"expected a non-zero exit code, got {result}"
    assert "Traceback" not in result.err and "Traceback" not in result.out, str(result)
    line = result.error
    for text in substrings:
        assert text in line, f"expected {text!r} in the error line {line!r}"
    return line


@pytest.fixture
def cli(monkeypatch, capsys, tmp_path):
    """Run ``advdl.commands.main.main(argv)`` in this process (cwd: tmp_path); returns a CliResult.

    An exception escaping ``main`` is what a user would see as a traceback: the test fails.
    """
    from advdl.commands.main import main
    from advdl.loading.manager import get_registry

    for name in ADVDL_SWITCHES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    get_registry.cache_clear()

    def run(*argv):
        capsys.readouterr()
        try:
            main([str(a) for a in argv])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException as exc:  # noqa: BLE001 - reported as the product bug it is
            captured = capsys.readouterr()
            pytest.fail(f"advdl {' '.join(map(str, argv))} raised {type(exc).__name__}: {exc} "
                        f"(a user would see a traceback)\nstderr so far:\n{captured.err}")
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    yield run
    get_registry.cache_clear()


def subprocess_env(pythonpath=None, **extra):
    env = {k: v for k, v in os.environ.items() if k not in ADVDL_SWITCHES and k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_advdl(*args, cwd, pythonpath=None, env=None, timeout=120):
    """``python -m advdl ARGS`` in a subprocess; returns a CliResult."""
    proc = subprocess.run([sys.executable, "-m", "advdl", *map(str, args)], check=False, cwd=cwd,
                          env=subprocess_env(pythonpath, **(env or {})), capture_output=True,
                          text=True, timeout=timeout)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def make_distribution(root, name, version, entry_points, modules):
    """A fake installed distribution in ``root`` (put ``root`` on PYTHONPATH to install it).

    ``entry_points`` maps entry-point names of the ``advdl`` group to module names;
    ``modules`` maps module names to their source text.
    """
    root = Path(root)
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = ["[advdl]"] + [f"{ep} = {target}" for ep, target in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for module, source in modules.items():
        path = root / (module.replace(".", "/") + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return info


@pytest.fixture
def finished_run(cli, tmp_path):
    """A real, finished 300-step Q-learning run on advdl/QWorld-v0 (no TensorFlow, ~0.1 s)."""
    out = tmp_path / "qrun"
    result = cli("run", "qlearning", "--env", "advdl/QWorld-v0", "--steps", 300, "--out", out, "--no-progress")
    assert result.code == 0, str(result)
    assert (out / "config.yaml").is_file() and list((out / "checkpoints").glob("*.ckpt"))
    return out


@pytest.fixture(scope="session")
def scorer_cache(tmp_path_factory):
    """A fresh scorer cache (ADVDL_CACHE_DIR) for the test session, shared by its xdist workers (the
    folder above theirs): each classifier trains once, the other workers waiting for it."""
    before = os.environ.get("ADVDL_CACHE_DIR")
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = tmp_path_factory.getbasetemp().parent / "scorer-cache"
        shared.mkdir(exist_ok=True)
        os.environ["ADVDL_CACHE_DIR"] = str(shared)
    else:
        os.environ["ADVDL_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if before is None:
        os.environ.pop("ADVDL_CACHE_DIR")
    else:
        os.environ["ADVDL_CACHE_DIR"] = before
