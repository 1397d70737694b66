"""Multi-seed runs (--seeds) with their aggregate, the statistics behind it, and `advdl compare`
against Stable-Baselines3 (the settings mapping always; the real thing when SB3 is installed)."""

import json
import sys

import numpy as np
import pytest
from conftest import assert_user_error

from advdl.api.stats import bootstrap_interval, describe, iqm
from advdl.experiments.seeds import parse_seeds


def test_seed_lists_and_ranges():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("3, 1,3") == [3, 1]
    assert parse_seeds("0-2,7") == [0, 1, 2, 7]
    for bad in ("", "a", "4-2", "1-", "-1"):
        with pytest.raises(Exception, match="--seeds"):
            parse_seeds(bad)


def test_iqm_and_bootstrap_on_known_cases():
    assert iqm([1, 2, 3, 4, 100, -100, 5, 6]) == pytest.approx(np.mean([2, 3, 4, 5]))  # the middle half
    assert iqm([1.0, 2.0, 3.0]) == pytest.approx(2.0)  # fewer than 4 values: nothing trimmed, as scipy
    low, high = bootstrap_interval(np.random.default_rng(0).normal(10.0, 1.0, 400))
    assert low < 10.0 < high and high - low < 0.3  # about 2 x 1.96 / sqrt(400) wide
    stats = describe([1.0, 2.0, 3.0, 4.0])
    assert stats["mean"] == 2.5 and stats["median"] == 2.5 and stats["mean_ci95"][0] <= 2.5 <= stats["mean_ci95"][1]


def test_multi_seed_run_aggregates_and_continues(cli, tmp_path):
    out = tmp_path / "multi"
    args = ("run", "qlearning", "--env", "FrozenLake-v1", "--env-kwarg", "is_slippery=false", "--steps", 3000,
            "--seeds", "0-2", "--workers", 2, "--out", out)
    result = cli(*args)
    assert result.code == 0, str(result)
    aggregate = json.loads((out / "aggregate.json").read_text())
    assert aggregate["seeds"] == [0, 1, 2] and len(aggregate["final_mean"]["values"]) == 3
    assert aggregate["final_mean"]["values"] == [json.loads((out / f"seed-{s}" / "summary.json").read_text())["eval"]["mean"]
                                                 for s in range(3)]
    assert 0.0 <= aggregate["solved_fraction"] <= 1.0 and (out / "aggregate.png").is_file()
    assert [json.loads((out / f"seed-{s}" / "summary.json").read_text())["seed"] for s in range(3)] == [0, 1, 2]
    again = cli(*args)  # the same command again: nothing retrained
    assert again.code == 0 and again.err.count("already finished") == 3
    assert_user_error(cli(*args[:-4], "--set", "learning_rate=0.9", "--out", out), "other settings")
    assert_user_error(cli("run", "qlearning", "--env", "FrozenLake-v1", "--seeds", "0-1", "--seed", 3), "--seeds")


def test_compare_names_the_missing_extra(cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "stable_baselines3", None)  # as if not installed
    assert_user_error(cli("compare", "dqn", "--env", "CartPole-v1"), "pip install", "baselines")
    assert_user_error(cli("compare", "qlearning", "--env", "FrozenLake-v1"), "declares no Stable-Baselines3 counterpart")


def test_sb3_settings_mirror_advdl_settings():
    from advdl.experiments.compare import counterpart, sb3_settings
    from advdl.loading.manager import get_registry
    from advdl.settings.resolve import resolve

    registry = get_registry()
    spec = registry.algorithm("ddqn")
    run_config, config, _ = resolve(spec, env="CartPole-v1", run_flags={"steps": 5000})
    settings = sb3_settings(spec, run_config, config, 475.0)
    kwargs = settings["kwargs"]
    assert settings["sb3_class"] == "DQN" and "no Double DQN" in counterpart(spec)[1]
    assert kwargs["learning_rate"] == config.learning_rate and kwargs["gradient_steps"] == config.gradient_steps
    assert kwargs["policy_kwargs"]["net_arch"] == list(config.hidden_sizes) and settings["steps"] == 5000
    spec = registry.algorithm("actor-critic")
    run_config, config, _ = resolve(spec, env="CartPole-v1")
    assert sb3_settings(spec, run_config, config, 475.0)["kwargs"]["n_steps"] == 1


def test_sb3_side_evaluates_toy_text_envs_and_caps_endless_episodes():
    """SB3's predict gives a 0-d array, which FrozenLake's transition table cannot take; a policy that
    never reaches CliffWalking's goal (no time limit there) stops at advdl's own episode cap."""
    from advdl.experiments import baselines

    class Always:  # an SB3-like model: predict(obs, deterministic) -> (0-d array, state)
        def __init__(self, action):
            self.action = action

        def predict(self, obs, deterministic=True):
            return np.array(self.action), None

    assert baselines.greedy_returns(Always(2), "FrozenLake-v1", {"is_slippery": False}, 2, 0) == [0.0, 0.0]
    capped = baselines.MAX_EPISODE_STEPS
    try:
        baselines.MAX_EPISODE_STEPS = 50
        assert baselines.greedy_returns(Always(0), "CliffWalking-v1", {}, 1, 0) == [-50.0]  # up, into the wall
    finally:
        baselines.MAX_EPISODE_STEPS = capped


@pytest.mark.skipif(__import__("importlib").util.find_spec("stable_baselines3") is None,
                    reason="the baselines extra is not installed")
def test_compare_runs_both_sides_with_one_protocol(cli, tmp_path):
    out = tmp_path / "cmp"
    result = cli("compare", "a2c", "--env", "CartPole-v1", "--seeds", "0,1", "--steps", 4000,
                 "--set", "eval_interval=2000", "--set", "final_eval_episodes=5", "--out", out)
    assert result.code == 0, str(result)
    report = json.loads((out / "compare.json").read_text())
    ours, theirs = report["rows"].values()
    assert ours["seeds"] == theirs["seeds"] == 2 and report["sb3"] == "A2C"
    for side in ("advdl", "sb3"):
        summary = json.loads((out / side / "seed-1" / "summary.json").read_text())
        assert summary["env_steps"] >= 4000 and len(summary["eval"]["returns"]) == 5
        assert [e["env_steps"] for e in summary["evaluations"]][:1] in ([2000], [2000 + 0])
    assert "advdl / SB3" in result.out and (out / "compare.png").is_file()


def test_the_suite_rewrites_only_its_readme_table(tmp_path, monkeypatch):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "suite.py"
    spec = importlib.util.spec_from_file_location("suite", path)
    suite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suite)
    results = {"mode": "quick", "date": "2026-11-30", "machine": {"cpu": "Test CPU", "cores": 2, "python": "3.11",
                                                                   "tensorflow": "2.21", "stable_baselines3": "2.9"},
               "parts": {"supervised": [{"measure": "m", "advdl": "a", "reference": "r", "ratio": 1.5}]}}
    table = suite.readme_table(results)
    assert table.startswith(suite.START) and table.endswith(suite.END)
    assert "Test CPU (2 cores)" in table and "| supervised | m | a | r | x1.50 |" in table
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{suite.START}\nold\n{suite.END}\nafter\n")
    monkeypatch.setattr(suite, "README", readme)
    monkeypatch.setattr(suite, "RESULTS", tmp_path / "suite.json")
    monkeypatch.setattr(suite, "PARTS", {"supervised": lambda full, work: results["parts"]["supervised"]})
    monkeypatch.setattr(sys, "argv", ["suite.py", "supervised"])
    suite.main()
    text = readme.read_text()
    assert text.startswith("before\n") and text.endswith("\nafter\n") and "old" not in text and "x1.50" in text
    assert json.loads((tmp_path / "suite.json").read_text())["parts"]["supervised"][0]["ratio"] == 1.5
