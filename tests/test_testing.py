"""advdl.testing: run_algorithm's env_kwargs, RunFolder, and the pytest fixtures plugin authors get."""

import subprocess
import sys

import pytest
from conftest import ADVDL_SWITCHES, subprocess_env

from advdl import EnvSpec, hookimpl
from advdl.loading.manager import get_registry
from advdl.testing import env_kwargs_items, run_algorithm


@pytest.fixture(autouse=True)
def no_switches(monkeypatch):
    for name in ADVDL_SWITCHES:
        monkeypatch.delenv(name, raising=False)


class LakePlugin:
    """A plugin no distribution installs: one environment."""

    @hookimpl
    def advdl_register_envs(self, register):
        register(EnvSpec(id="testing/Lake-v0", entry_point="gymnasium.envs.toy_text.frozen_lake:FrozenLakeEnv",
                         max_episode_steps=20))


@pytest.mark.parametrize("given, items", [
    (None, []), ({}, []), ((), []),
    ({"is_slippery": False, "map_name": "4x4", "max_episode_steps": None},
     ["is_slippery=false", 'map_name="4x4"', "max_episode_steps=null"]),
    (["is_slippery=false"], ["is_slippery=false"]), (("a=1", "b=x"), ["a=1", "b=x"]), ("a=1", ["a=1"]),
])
def test_env_kwargs_items(given, items):
    assert env_kwargs_items(given) == items


@pytest.mark.parametrize("env_kwargs", [{"is_slippery": False, "map_name": "4x4"},
                                        ["is_slippery=false", "map_name=4x4"], ("is_slippery=no", "map_name=4x4")])
def test_run_algorithm_takes_env_kwargs_as_a_mapping_or_the_cli_items(tmp_path, advdl_registry, advdl_run_folder,
                                                                      env_kwargs):
    summary = run_algorithm("qlearning", "FrozenLake-v1", tmp_path / "run", steps=100, final_eval_episodes=1,
                            eval_interval=0, env_kwargs=env_kwargs, registry=advdl_registry)
    assert summary["env_steps"] == 100
    assert advdl_run_folder(tmp_path / "run").config["env_kwargs"] == {"is_slippery": False, "map_name": "4x4"}


def test_advdl_run_is_tiny_and_its_folder_reads_back(advdl_run, tmp_path):
    run = advdl_run("qlearning", "advdl/QWorld-v0")
    assert run.path.parent == tmp_path and run.path.is_dir()
    assert run.summary["env_steps"] == 200 and run.summary == run.__class__(run.path).summary
    assert run.config["algorithm"] == "qlearning" and run.config["steps"] == 200
    assert run.config["hyperparameters"]["gamma"] == 0.9
    assert [row["env_steps"] for row in run.metrics] == [50, 100, 150, 200]
    assert all(isinstance(row["episodes"], int) for row in run.metrics)
    assert run.rows("episodes.csv") and run.rows("evaluations.csv") == []
    assert [p.name for p in run.checkpoints] == ["step-0000000200.ckpt"]
    assert run.model == run / "model.npz" and run.model.is_file()
    assert {"config.yaml", "summary.json", "metrics.csv", "checkpoints"} <= set(run.files)
    assert advdl_run("qlearning", "advdl/QWorld-v0").path != run.path  # each run its own folder


def test_advdl_run_settings_override_the_tiny_ones(advdl_run, tmp_path):
    run = advdl_run("qlearning", "advdl/QWorld-v0", steps=60, log_interval=20, gamma=0.5, out=tmp_path / "mine")
    assert run.path == tmp_path / "mine" and run.summary["env_steps"] == 60
    assert len(run.metrics) == 3 and run.config["hyperparameters"]["gamma"] == 0.5


def test_advdl_run_not_tiny_applies_the_preset(advdl_run):
    run = advdl_run("qlearning", "advdl/QWorld-v0", tiny=False, steps=1000)
    assert run.summary["preset"] == "advdl/QWorld-v0" and run.config["log_interval"] == 1000
    assert run.summary["env_steps"] == 1000


def test_advdl_make_registry_adds_plugins_to_a_fresh_registry(advdl_make_registry, advdl_registry, advdl_run):
    registry = advdl_make_registry(LakePlugin())
    assert registry is not advdl_registry and registry is not get_registry()
    assert registry.envs["testing/Lake-v0"].plugin == "LakePlugin"
    assert "testing/Lake-v0" not in advdl_registry.envs
    run = advdl_run("qlearning", "testing/Lake-v0", registry=registry)
    assert run.summary["env"] == "testing/Lake-v0"


class TestOverridingAdvdlPlugins:
    @pytest.fixture
    def advdl_plugins(self):
        return [LakePlugin()]

    def test_the_registry_holds_them(self, advdl_registry, advdl_run):
        assert advdl_registry.errors == []
        assert "testing/Lake-v0" in advdl_registry.envs and "qlearning" in advdl_registry.algorithms
        assert advdl_run("qlearning", "testing/Lake-v0").summary["env_steps"] == 200


PROBE = """
import sys
import advdl.testing, advdl.testing.plugin
print(sorted(m for m in ("numpy", "tensorflow", "keras", "gymnasium", "yaml") if m in sys.modules))
"""


def test_pytest_plugin_is_registered_and_cheap_to_import(tmp_path, pytestconfig):
    assert pytestconfig.pluginmanager.has_plugin("advdl"), "the pytest11 entry point is missing: pip install -e ."
    proc = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, env=subprocess_env(), capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", "pytest imports advdl.testing.plugin in every session: keep it cheap"
