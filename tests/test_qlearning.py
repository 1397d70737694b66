"""Tabular Q-learning: the book's Q-world table, FrozenLake goal rates."""

import numpy as np
import pytest

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


@pytest.mark.slow  # a learning or multi-process run: the default suite stays under 8 minutes
def test_frozenlake_slippery_goal_rate_at_least_70_percent(tmp_path):
    summary = run_algorithm("qlearning", "FrozenLake-v1", tmp_path)
    assert summary["eval"]["episodes"] == 1000
    assert summary["eval"]["mean"] >= 0.70


def test_is_slippery_really_reaches_the_env():
    import gymnasium as gym

    from advdl.loading.manager import get_registry
    from advdl.rl.environments import make_env

    env = make_env("FrozenLake-v1", get_registry(), {"is_slippery": False})
    env.reset(seed=0)
    assert [env.step(2)[0] for _ in range(3)] == [1, 2, 3]  # Right, Right, Right: deterministic
    assert isinstance(env.unwrapped, gym.envs.toy_text.FrozenLakeEnv)
