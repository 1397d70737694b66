"""Tabular Q-learning: the book's Q-world table, the budget-scaled schedules, FrozenLake goal rates
against the optimum that value iteration computes from the lake's own transition table."""

import csv

import gymnasium as gym
import numpy as np
import pytest
from advdl_plugins.qlearning.exact import lake_tables, optimal_policy
from advdl_plugins.qlearning.exact import policy_goal_probability as goal_probability

from advdl.testing import run_algorithm

# The book's chapter 9 table (gamma 0.9): rows are states 0..5, columns Left, Down, Right, Up.
ANALYTIC_Q = np.array([
    [81.0, 72.9, 90.0, 81.0],
    [81.0, 81.0, 100.0, 90.0],
    [0.0, 0.0, 0.0, 0.0],
    [72.9, 72.9, 81.0, 81.0],
    [72.9, 81.0, -100.0, 90.0],
    [0.0, 0.0, 0.0, 0.0],
])


def test_qworld_table_equals_the_analytic_one(tmp_path):
    summary = run_algorithm("qlearning", "advdl/QWorld-v0", tmp_path)
    q = np.load(tmp_path / "model.npz")["q_table"]
    np.testing.assert_allclose(q, ANALYTIC_Q, atol=1e-9)
    np.testing.assert_allclose(np.loadtxt(tmp_path / "q_table.csv", delimiter=",", skiprows=1), ANALYTIC_Q)
    assert summary["eval"]["mean"] == 100.0


def test_qworld_env_dynamics():
    from advdl_envs.qworld import DOWN, LEFT, RIGHT, UP, QWorldEnv

    env = QWorldEnv()
    env.reset(seed=0)
    assert env.step(LEFT)[:3] == (0, 0.0, False)  # wall: stay
    assert env.step(RIGHT)[:3] == (1, 0.0, False)
    assert env.step(DOWN)[:3] == (4, 0.0, False)
    assert env.step(RIGHT)[:3] == (5, -100.0, True)  # the hole
    env.reset()
    env.step(RIGHT)
    assert env.step(RIGHT)[:3] == (2, 100.0, True)  # the goal
    env.reset()
    assert env.step(UP)[0] == 0
    with pytest.raises(ValueError):
        env.step(7)


def test_frozenlake_not_slippery_is_solved_every_time(tmp_path):
    summary = run_algorithm("qlearning", "FrozenLake-v1", tmp_path, steps=30_000,
                            env_kwargs={"is_slippery": False})
    assert summary["eval"]["episodes"] == 1000
    assert summary["eval"]["mean"] == 1.0


def test_exploration_and_step_size_fall_over_the_budget():
    from advdl_plugins.qlearning import QLearningConfig
    from advdl_plugins.qlearning.agent import QLearningAgent
    from gymnasium.spaces import Discrete

    def schedule(env_steps, episodes, total_episodes=0, **config):
        agent = QLearningAgent(QLearningConfig(**config), Discrete(3), Discrete(2), seed=0, total_steps=1000)
        agent.total_episodes = total_episodes
        agent.on_step(env_steps, episodes)
        return pytest.approx((agent.epsilon, agent.learning_rate))

    # epsilon 1 -> 0.05 over exploration_fraction 0.5 of the 1,000 steps; the step size 0.5 -> 0 over all of them
    assert schedule(0, 0) == (1.0, 0.5)
    assert schedule(250, 3) == (0.525, 0.375)
    assert schedule(500, 9) == (0.05, 0.25)
    assert schedule(1000, 20) == (0.05, 0.0)
    # an episode limit reached first sets the pace: episode 50 of 100 is half the run, at step 10 of 1,000
    assert schedule(10, 50, total_episodes=100) == (0.05, 0.25)
    assert schedule(900, 20, total_episodes=100) == (0.05, 0.05)  # and the steps, when they come first
    # the book's schedule: epsilon * 0.9 per episode, not below its floor; a constant step size
    book = {"exploration_decay": 0.9, "exploration_final_eps": 0.1, "learning_rate": 1.0, "learning_rate_end": None}
    assert schedule(999, 5, **book) == (0.9 ** 5, 1.0)
    assert schedule(999, 50, **book) == (0.1, 1.0)


def test_the_run_tells_the_agent_its_episode_budget(tmp_path):
    # 200 episodes reached long before 100,000 steps: epsilon is at its floor from episode 100 on
    run_algorithm("qlearning", "FrozenLake-v1", tmp_path, preset="none", episodes=200, log_interval=100,
                  eval_interval=0, final_eval_episodes=1, checkpoint_interval=0)
    with open(tmp_path / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert int(rows[-1]["episodes"]) == 200 and int(rows[-1]["env_steps"]) < 10_000
    assert float(rows[-1]["epsilon"]) == pytest.approx(0.05)


# -- FrozenLake against its optimum -------------------------------------------------------------------
@pytest.mark.parametrize("map_name, horizon, optimum", [("4x4", 100, 0.740), ("8x8", 100, 0.632),
                                                        ("8x8", 200, 0.863)])
def test_value_iteration_finds_the_slippery_lakes_optimum(map_name, horizon, optimum):
    env = gym.make("FrozenLake-v1", map_name=map_name)
    R, T = lake_tables(env)
    assert goal_probability(R, T, optimal_policy(R, T), horizon) == pytest.approx(optimum, abs=0.002)
    # FrozenLake-v1 stops an episode after 100 steps whichever the map (FrozenLake8x8-v1: 200)
    assert env.spec.max_episode_steps == 100


def test_frozenlake_8x8_not_slippery_is_solved_on_a_short_budget(tmp_path):
    # the FrozenLake-v1 preset, as `advdl run` picks it, with 100,000 steps instead of its 20,000 episodes
    summary = run_algorithm("qlearning", "FrozenLake-v1", tmp_path, steps=100_000,
                            env_kwargs={"map_name": "8x8", "is_slippery": False})
    assert summary["env_steps"] == 100_000 and summary["eval"]["mean"] == 1.0
    R, T = lake_tables(gym.make("FrozenLake-v1", map_name="8x8", is_slippery=False))
    assert goal_probability(R, T, np.load(tmp_path / "model.npz")["q_table"].argmax(axis=1), 100) == 1.0


# The margins: over 24 seeds of the same algorithm and settings (a replica outside advdl), the learned
# policy of the slippery 8x8 fell short of the optimum by 0.005 in the median and 0.037 at worst; the 4x4's
# was the optimal one in each of 8. Regressions fall further: a constant step size (0.1 to 0.4) left 8x8
# seeds 0.06 to 0.5 short, and the old schedule (epsilon x0.999 per episode, ties to the first action)
# never found either 8x8 lake's goal.
@pytest.mark.slow  # a learning run: 15 s (8x8 not slippery) to 60 s (8x8 slippery)
@pytest.mark.parametrize("map_name, slippery, margin", [("4x4", True, 0.03), ("8x8", True, 0.05),
                                                        ("8x8", False, 0.0)])
def test_frozenlake_preset_comes_close_to_the_optimum(tmp_path, map_name, slippery, margin):
    summary = run_algorithm("qlearning", "FrozenLake-v1", tmp_path, env_kwargs={"map_name": map_name,
                                                                                "is_slippery": slippery})
    assert summary["preset"] == "FrozenLake-v1" and summary["episodes"] == 20_000
    assert summary["eval"]["episodes"] == 1000
    R, T = lake_tables(gym.make("FrozenLake-v1", map_name=map_name, is_slippery=slippery))
    learned = np.load(tmp_path / "model.npz")["q_table"].argmax(axis=1)
    # at the env's own limit, 100 steps, and at FrozenLake8x8-v1's, 200: a policy may beat gamma 0.99's
    # optimal one within a finite horizon, so only a shortfall counts
    for horizon in (100, 200):
        optimum = goal_probability(R, T, optimal_policy(R, T), horizon)
        assert goal_probability(R, T, learned, horizon) >= optimum - margin, horizon
    if not slippery:
        assert summary["eval"]["mean"] == 1.0


def test_is_slippery_really_reaches_the_env():
    import gymnasium as gym

    from advdl.loading.manager import get_registry
    from advdl.rl.environments import make_env

    env = make_env("FrozenLake-v1", get_registry(), {"is_slippery": False})
    env.reset(seed=0)
    assert [env.step(2)[0] for _ in range(3)] == [1, 2, 3]  # Right, Right, Right: deterministic
    assert isinstance(env.unwrapped, gym.envs.toy_text.FrozenLakeEnv)


def test_a_run_ended_by_its_episode_limit_trains_further_by_steps(tmp_path):
    """--resume DIR --steps N on a run its episode limit ended: the limit is lifted, N steps are trained."""
    from advdl.loading.manager import get_registry
    from advdl.runs.start import resume

    out = tmp_path / "lake"
    first = run_algorithm("qlearning", "FrozenLake-v1", out, steps=50_000, episodes=20, eval_interval=0,
                          final_eval_episodes=5)
    assert first["episodes"] == 20 and first["env_steps"] < 50_000
    again = resume(out, get_registry(), steps=first["env_steps"] + 300, progress=False)
    assert again["env_steps"] >= first["env_steps"] + 300 and again["episodes"] > 20
