"""The plugin's own tests, written with advdl's pytest fixtures (they come with advdl: no conftest.py needed).

Run them where the plugin is installed (``pip install -e .`` next to advdl): ``pytest``.
"""

import numpy as np
import pytest

from advdl.api import ConfigError, EnvSpaceError, EnvSpec, hookimpl

DIST = "advdl-example-plugin"


def test_sarsa_is_registered_from_this_distribution(advdl_registry):
    sarsa = advdl_registry.algorithm("sarsa")
    assert (sarsa.distribution, sarsa.plugin, sarsa.family) == (DIST, "sarsa", "rl")
    assert "advdl/QWorld-v0" in sarsa.presets
    assert [e for e in advdl_registry.errors if e["distribution"] == DIST] == []


def test_a_tiny_run_writes_a_complete_run_folder(advdl_run):
    run = advdl_run("sarsa", "advdl/QWorld-v0")  # 200 steps, a metrics row every 50
    assert run.summary["algorithm"] == "sarsa" and run.summary["env_steps"] == 200
    assert [row["env_steps"] for row in run.metrics] == [50, 100, 150, 200]
    assert all(row["td_error"] >= 0 and 0 <= row["epsilon"] <= 1 for row in run.metrics)
    assert run.config["hyperparameters"]["learning_rate"] == 0.5
    assert len(run.checkpoints) == 1
    with np.load(run.model) as model:  # what save_model wrote
        assert model["q_table"].shape == (6, 4)


def test_the_qworld_preset_finds_the_optimal_path(advdl_run):
    run = advdl_run("sarsa", "advdl/QWorld-v0", tiny=False)  # as `advdl run sarsa --env advdl/QWorld-v0`
    assert run.summary["preset"] == "advdl/QWorld-v0" and run.summary["env_steps"] == 2000
    assert run.summary["eval"]["mean"] == 100.0


def test_hyperparameters_and_env_kwargs_reach_the_run(advdl_run):
    run = advdl_run("sarsa", "FrozenLake-v1", env_kwargs={"is_slippery": False}, gamma=0.5, exploration_decay=0.5)
    assert run.config["env_kwargs"] == {"is_slippery": False}
    assert run.config["hyperparameters"]["gamma"] == 0.5
    assert run.metrics[0]["epsilon"] > run.metrics[-1]["epsilon"] >= 0.05  # decays down to exploration_final_eps


def test_a_bad_hyperparameter_is_a_config_error(advdl_run):
    with pytest.raises(ConfigError, match="learning_rate"):
        advdl_run("sarsa", "advdl/QWorld-v0", learning_rate=0.0)


def test_a_continuous_observation_space_is_refused(advdl_run):
    with pytest.raises(EnvSpaceError, match="discrete observation space"):
        advdl_run("sarsa", "CartPole-v1")


class SmallLake:
    """A plugin defined in the test (not installed): a 4x4 lake without ice, 20 steps per episode."""

    @hookimpl
    def advdl_register_envs(self, register):
        register(EnvSpec(id="example/SmallLake-v0", entry_point="gymnasium.envs.toy_text.frozen_lake:FrozenLakeEnv",
                         max_episode_steps=20, kwargs={"is_slippery": False}))


def test_sarsa_runs_on_an_environment_another_plugin_provides(advdl_make_registry, advdl_run):
    registry = advdl_make_registry(SmallLake())
    run = advdl_run("sarsa", "example/SmallLake-v0", registry=registry, steps=400)
    assert run.summary["env"] == "example/SmallLake-v0" and run.summary["env_steps"] == 400
    assert max(row["length"] for row in run.rows("episodes.csv")) <= 20
