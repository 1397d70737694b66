"""The example third-party plugin (examples/advdl-example-plugin), end to end through `advdl`.

Skipped unless the plugin is installed (`tox -e plugin` installs it). Everything goes through
the real console command in a subprocess, exactly as a user who pip-installed the plugin would;
the plugin's own tests (written with advdl's pytest fixtures) run in a pytest subprocess.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# a marker rather than importorskip: the tests are collected and reported as skipped, so running
# this file alone without the plugin exits 0 instead of pytest's "no tests collected" (5)
pytestmark = pytest.mark.skipif(importlib.util.find_spec("advdl_example_plugin") is None,
                                reason="advdl-example-plugin is not installed (tox -e plugin installs it)")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "advdl-example-plugin"
PLUGIN_DIST = "advdl-example-plugin"
PLUGIN_VERSION = "0.1.0"
HYPERPARAMETERS = ("learning_rate", "gamma", "exploration_initial_eps", "exploration_final_eps",
                   "exploration_decay")


def advdl_command():
    """The `advdl` script of the interpreter running the tests (not whichever is first on PATH)."""
    found = shutil.which("advdl", path=str(Path(sys.executable).parent)) or shutil.which("advdl")
    if found is None:
        pytest.skip("the advdl console script is not installed")
    return found


def advdl(*args, cwd, extra_env=None, timeout=300):
    env = {k: v for k, v in os.environ.items() if k not in ("ADVDL_PLUGINS", "ADVDL_BLOCK_PLUGINS")}
    env.update({"TF_CPP_MIN_LOG_LEVEL": "3", **(extra_env or {})})
    result = subprocess.run([advdl_command(), *args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=timeout, check=False)
    assert result.returncode == 0, (
        f"advdl {' '.join(args)} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


def algorithms(listing):
    return {a["name"]: a for a in listing["algorithms"]}


def test_list_shows_the_plugin_with_its_distribution(tmp_path):
    listing = json.loads(advdl("list", "--json", cwd=tmp_path).stdout)
    assert listing["errors"] == []
    sarsa = algorithms(listing)["sarsa"]
    assert (sarsa["distribution"], sarsa["version"]) == (PLUGIN_DIST, PLUGIN_VERSION)
    assert sarsa["plugin"] == "sarsa" and sarsa["family"] == "rl"
    assert "advdl/QWorld-v0" in sarsa["presets"]
    assert PLUGIN_DIST in advdl("list", cwd=tmp_path).stdout


@pytest.fixture(scope="module")
def qworld_run(tmp_path_factory):
    """One short sarsa run on the book's Q-world (its preset), shared by the tests below."""
    work = tmp_path_factory.mktemp("sarsa")
    out = work / "run"
    result = advdl("run", "sarsa", "--env", "advdl/QWorld-v0", "--out", str(out), "--no-progress", cwd=work)
    return out, result


def test_run_reaches_the_optimal_return(qworld_run):
    out, result = qworld_run
    assert "Finished sarsa on advdl/QWorld-v0" in result.stdout
    for name in ("config.yaml", "metrics.csv", "model.npz", "learning_curve.png", "summary.json"):
        assert (out / name).is_file(), f"{name} missing from the run folder"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["algorithm"] == "sarsa"
    assert summary["preset"] == "advdl/QWorld-v0"
    assert summary["eval"]["mean"] == 100.0


def test_run_logs_the_agents_metrics(qworld_run):
    out, _ = qworld_run
    header = (out / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"env_steps", "td_error", "epsilon"} <= set(header)


def test_eval_loads_the_saved_model(qworld_run):
    out, _ = qworld_run
    result = json.loads(advdl("eval", str(out), "--episodes", "3", "--json", cwd=out.parent).stdout)
    assert result == {"mean": 100.0, "std": 0.0, "episodes": 3}


def test_info_lists_the_hyperparameters(tmp_path):
    text = advdl("info", "sarsa", cwd=tmp_path).stdout
    assert f"from {PLUGIN_DIST} {PLUGIN_VERSION}" in text
    for name in HYPERPARAMETERS:
        assert name in text
    info = json.loads(advdl("info", "sarsa", "--json", cwd=tmp_path).stdout)
    assert tuple(p["name"] for p in info["hyperparameters"]) == HYPERPARAMETERS
    assert all(p["help"] for p in info["hyperparameters"])


def test_block_plugins_hides_only_the_plugin(tmp_path):
    listing = json.loads(advdl("list", "--json", cwd=tmp_path, extra_env={"ADVDL_BLOCK_PLUGINS": "sarsa"}).stdout)
    names = algorithms(listing)
    assert "sarsa" not in names
    assert "dqn" in names
    assert listing["errors"] == []


def test_the_plugins_own_tests_pass_with_advdls_fixtures(tmp_path):
    """Its tests/ use advdl_registry, advdl_run ... with no conftest.py: pytest finds them through advdl's
    pytest11 entry point, as in a plugin author's checkout. From tmp_path: the installed plugin is tested."""
    env = {k: v for k, v in os.environ.items() if k not in ("ADVDL_PLUGINS", "ADVDL_BLOCK_PLUGINS")}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
                          cwd=tmp_path, env=env | {"TF_CPP_MIN_LOG_LEVEL": "3"}, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, f"the example plugin's tests failed:\n{proc.stdout}\n{proc.stderr}"
    assert " passed" in proc.stdout and "skipped" not in proc.stdout, proc.stdout
