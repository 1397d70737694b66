"""Policy gradients (A2C, REINFORCE): the policy's probabilities and entropies, the direction of its
gradient, GAE and returns, learning on CartPole."""

import math

import numpy as np
import pytest
from gymnasium import spaces

from advdl.api.errors import ConfigError, EnvSpaceError
from advdl.api.interfaces import RolloutBatch
from advdl.settings.values import build
from advdl.testing import run_algorithm


def make_agent(action_space, **overrides):
    from advdl_plugins.policy_gradient import A2CConfig
    from advdl_plugins.policy_gradient.a2c import A2CAgent

    config = A2CConfig(**{"hidden_sizes": (16,), "learning_rate": 1e-2, **overrides})
    obs_space = spaces.Box(-1.0, 1.0, (3,), np.float32)
    return A2CAgent(config, obs_space, action_space, seed=0, total_steps=100)


def test_gaussian_log_prob_and_entropy_match_the_closed_form():
    agent = make_agent(spaces.Box(-2.0, 2.0, (2,), np.float32), log_std_init=-0.3)
    obs = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    actions = np.random.default_rng(1).normal(size=(5, 2)).astype(np.float32)
    log_prob, entropy = (x.numpy() for x in agent.log_prob_and_entropy(obs, actions))
    mean, sigma = agent.actor(obs).numpy(), math.exp(-0.3)
    expected = (-(actions - mean) ** 2 / (2 * sigma ** 2) - math.log(sigma) - 0.5 * math.log(2 * math.pi)).sum(1)
    np.testing.assert_allclose(log_prob, expected, rtol=1e-5)
    np.testing.assert_allclose(entropy, 2 * 0.5 * math.log(2 * math.pi * math.e * sigma ** 2), rtol=1e-5)


def test_categorical_log_prob_and_entropy_match_the_softmax():
    agent = make_agent(spaces.Discrete(3))
    obs = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    actions = np.array([0, 1, 2, 1], dtype=np.int32)
    log_prob, entropy = (x.numpy() for x in agent.log_prob_and_entropy(obs, actions))
    logits = agent.actor(obs).numpy()
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(log_prob, np.log(probs[np.arange(4), actions]), rtol=1e-5)
    np.testing.assert_allclose(entropy, -(probs * np.log(probs)).sum(1), rtol=1e-5)


def one_step_batch(agent, obs, action, reward):
    t = lambda x: np.asarray(x)[None, None]  # noqa: E731  (one step of one env)
    return RolloutBatch(t(obs), t(action), t(np.float32(reward)), t(np.float32(1)), t(np.float32(0)), t(obs))


@pytest.mark.parametrize("space, action", [(spaces.Discrete(3), 1),
                                           (spaces.Box(-2.0, 2.0, (1,), np.float32), np.array([0.7], np.float32))])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_advantage_sign_moves_the_log_probability_its_way(space, action, sign):
    agent = make_agent(space, vf_coef=0.0, max_grad_norm=None)
    obs = np.array([0.1, -0.2, 0.3], np.float32)
    before = agent.log_prob_and_entropy(obs[None], np.asarray(action)[None])[0].numpy()[0]
    # terminated after one step: the advantage is reward - V(s); make its sign the chosen one
    reward = agent.values(obs[None])[0] + sign * 5.0
    agent.train_step(one_step_batch(agent, obs, action, reward))
    after = agent.log_prob_and_entropy(obs[None], np.asarray(action)[None])[0].numpy()[0]
    assert np.sign(after - before) == sign


def test_entropy_bonus_really_reaches_the_gradient():
    space = spaces.Box(-2.0, 2.0, (1,), np.float32)
    agent = make_agent(space, vf_coef=0.0, ent_coef=1.0, max_grad_norm=None)
    obs = np.array([0.1, -0.2, 0.3], np.float32)
    action = np.array([0.0], np.float32)
    reward = agent.values(obs[None])[0]  # zero advantage: only the entropy term moves the policy
    std_before = float(np.exp(agent.log_std.numpy()[0]))
    agent.train_step(one_step_batch(agent, obs, action, reward))
    assert float(np.exp(agent.log_std.numpy()[0])) > std_before


def test_gae_with_lambda_one_is_the_n_step_return():
    from advdl_plugins.policy_gradient.a2c import gae

    rewards = np.array([[1.0], [2.0], [3.0]])
    values = np.array([[0.5], [0.4], [0.3]])
    next_values = np.array([[0.4], [0.3], [10.0]])
    terminated = np.zeros((3, 1))
    truncated = np.zeros((3, 1))
    g = 0.9
    expected_return0 = 1 + g * 2 + g ** 2 * 3 + g ** 3 * 10
    advantages = gae(rewards, values, next_values, terminated, truncated, g, 1.0)
    assert advantages[0, 0] == pytest.approx(expected_return0 - 0.5)
    terminated[1, 0] = 1.0  # the episode ends at step 1: nothing after it counts for steps 0 and 1
    advantages = gae(rewards, values, next_values, terminated, truncated, g, 1.0)
    assert advantages[0, 0] == pytest.approx(1 + g * 2 - 0.5)
    truncated[1, 0], terminated[1, 0] = 1.0, 0.0  # a time limit: bootstrap from V(next_obs) there
    advantages = gae(rewards, values, next_values, terminated, truncated, g, 1.0)
    assert advantages[0, 0] == pytest.approx(1 + g * (2 + g * 0.3) - 0.5)


def test_continuous_actions_are_clipped_for_the_env_but_kept_raw():
    agent = make_agent(spaces.Box(-1.0, 1.0, (2,), np.float32), log_std_init=2.0)
    raw = agent.act(np.zeros((64, 3), np.float32), explore=True)
    assert np.abs(raw).max() > 1.0
    clipped = agent.env_action(raw)
    assert clipped.min() >= -1.0 and clipped.max() <= 1.0


def test_unsupported_spaces_and_settings_are_clear_errors():
    from advdl_plugins.policy_gradient import A2CConfig
    from advdl_plugins.policy_gradient.a2c import A2CAgent

    with pytest.raises(EnvSpaceError, match="Dict"):
        A2CAgent.check_spaces(spaces.Box(-1, 1, (3,)), spaces.Dict({"a": spaces.Discrete(2)}))
    with pytest.raises(EnvSpaceError, match="Box observation"):
        A2CAgent.check_spaces(spaces.Discrete(4), spaces.Discrete(2))
    for bad in ({"n_envs": 0}, {"n_steps": 0}, {"gae_lambda": 1.5}, {"learning_rate": 0.0}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            build(A2CConfig, bad, "a2c hyperparameters")  # bounds are checked where values are converted


def test_a2c_learns_cartpole_quickly(tmp_path):
    summary = run_algorithm("a2c", "CartPole-v1", tmp_path, steps=50_000, eval_interval=10_000)
    assert max(e["mean"] for e in summary["evaluations"]) >= 400  # random play: about 22
    assert summary["eval"]["mean"] >= 150


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a2c_preset_solves_cartpole(tmp_path, seed):
    summary = run_algorithm("a2c", "CartPole-v1", tmp_path, seed=seed)
    assert summary["eval"]["mean"] >= 475


def test_returns_to_go():
    from advdl_plugins.policy_gradient.reinforce import returns_to_go

    np.testing.assert_allclose(returns_to_go(np.array([1.0, 0.0, 2.0], np.float32), 0.5), [1.5, 1.0, 2.0])


def test_padding_an_episode_leaves_the_update_unchanged():
    rng = np.random.default_rng(3)
    obs = rng.normal(size=(11, 3)).astype(np.float32)
    actions = rng.integers(0, 3, 11)
    advantages, returns = rng.normal(size=11), rng.normal(size=11)
    results = []
    for pad in (False, True):
        agent = make_agent(spaces.Discrete(3), optimizer="adam")
        metrics = agent.update(obs, actions, advantages, returns, pad=pad)
        results.append((metrics, agent.actor.get_weights()[0]))
    for key in results[0][0]:
        assert results[0][0][key] == pytest.approx(results[1][0][key], rel=1e-5)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-5, atol=1e-6)


@pytest.mark.slow  # a learning or multi-process run: the default suite stays under 8 minutes
def test_reinforce_baseline_preset_solves_cartpole(tmp_path):
    summary = run_algorithm("reinforce-baseline", "CartPole-v1", tmp_path)
    assert summary["eval"]["mean"] >= 195


@pytest.mark.slow  # a learning or multi-process run: the default suite stays under 8 minutes
def test_reinforce_learns_cartpole(tmp_path):
    summary = run_algorithm("reinforce", "CartPole-v1", tmp_path, steps=50_000, eval_interval=10_000)
    assert max(e["mean"] for e in summary["evaluations"]) >= 195  # random play: about 22


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["reinforce", "reinforce-baseline"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reinforce_presets_reach_195_on_every_seed(tmp_path, algorithm, seed):
    summary = run_algorithm(algorithm, "CartPole-v1", tmp_path, seed=seed)
    assert summary["eval"]["mean"] >= 195


@pytest.mark.slow  # a learning or multi-process run: the default suite stays under 8 minutes
def test_actor_critic_learns_cartpole_online(tmp_path):
    summary = run_algorithm("actor-critic", "CartPole-v1", tmp_path, steps=30_000, eval_interval=10_000)
    assert max(e["mean"] for e in summary["evaluations"]) >= 195


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_actor_critic_preset_reaches_195_on_every_seed(tmp_path, seed):
    summary = run_algorithm("actor-critic", "CartPole-v1", tmp_path, seed=seed)
    assert summary["eval"]["mean"] >= 195
