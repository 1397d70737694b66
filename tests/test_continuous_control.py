"""Continuous control with the policy-gradient family: state-dependent exploration (gSDE), observation
and reward normalisation, the book's frozen autoencoder state encoder, MountainCarContinuous."""

import math

import numpy as np
import pytest
from gymnasium import spaces

from advdl.api.errors import ConfigError, EnvSpaceError
from advdl.settings.values import build
from advdl.testing import run_algorithm

OBS_SPACE = spaces.Box(-1.0, 1.0, (3,), np.float32)
ACTION_SPACE = spaces.Box(-2.0, 2.0, (2,), np.float32)


def make_agent(observation_space=OBS_SPACE, action_space=ACTION_SPACE, **overrides):
    from advdl_plugins.policy_gradient import A2CConfig
    from advdl_plugins.policy_gradient.a2c import A2CAgent

    config = A2CConfig(**{"hidden_sizes": (16,), "learning_rate": 1e-2, **overrides})
    return A2CAgent(config, observation_space, action_space, seed=0, total_steps=100)


def observations(n, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, 3)).astype(np.float32)


def test_sde_log_prob_and_entropy_match_the_closed_form():
    agent = make_agent(sde=True, log_std_init=-0.5)
    obs = observations(5)
    actions = np.random.default_rng(1).normal(size=(5, 2)).astype(np.float32)
    log_prob, entropy = (x.numpy() for x in agent.log_prob_and_entropy(obs, actions))
    kernel, bias = agent.actor.layers[0].get_weights()
    features = np.tanh(obs @ kernel + bias)
    sigma = np.sqrt(features**2 @ np.full((16, 2), math.exp(-1.0)) + 1e-6)  # per state and action
    mean = agent.actor(obs).numpy()
    expected = (-(actions - mean) ** 2 / (2 * sigma**2) - np.log(sigma) - 0.5 * math.log(2 * math.pi)).sum(1)
    np.testing.assert_allclose(log_prob, expected, rtol=1e-4)
    np.testing.assert_allclose(entropy, (0.5 * np.log(2 * math.pi * math.e * sigma**2)).sum(1), rtol=1e-4)


def test_sde_noise_is_held_for_sample_freq_steps():
    agent = make_agent(sde=True, sde_sample_freq=3)
    obs = observations(4)
    noise = [agent.act(obs, explore=True) - agent.act(obs, explore=False) for _ in range(6)]
    np.testing.assert_allclose(noise[0], noise[2], atol=1e-6)  # the same matrices for 3 steps
    assert not np.allclose(noise[2], noise[3])  # then new ones
    assert not np.allclose(noise[0][0], noise[0][1])  # one matrix per environment


def test_sde_noise_is_redrawn_after_each_update_by_default():
    from advdl.api.interfaces import RolloutBatch

    agent = make_agent(sde=True)
    obs = observations(1)
    before = agent.act(obs, explore=True) - agent.act(obs, explore=False)
    np.testing.assert_allclose(agent.act(obs, explore=True) - agent.act(obs, explore=False), before, atol=1e-6)
    one = lambda x: np.asarray(x, np.float32)[None]  # noqa: E731  (one step of one env)
    agent.train_step(RolloutBatch(one(obs), one(before), one([0.5]), one([0.0]), one([0.0]), one(obs)))
    assert not np.allclose(agent.act(obs, explore=True) - agent.act(obs, explore=False), before, atol=1e-4)


def test_running_observation_normalisation_learns_the_statistics():
    agent = make_agent(normalize_obs=True)
    rng = np.random.default_rng(0)
    for _ in range(200):
        agent.act((rng.normal(size=(8, 3)) * [1.0, 10.0, 0.01] + [5.0, -3.0, 0.0]).astype(np.float32), explore=True)
    assert np.all(np.abs(agent.obs_rms.mean - [5.0, -3.0, 0.0]) <= 0.1 * np.array([1.0, 10.0, 0.01]))  # 4 std errors
    np.testing.assert_allclose(np.sqrt(agent.obs_rms.var), [1.0, 10.0, 0.01], rtol=0.05)
    before = agent.obs_rms.mean.copy()
    agent.act(np.full((8, 3), 100.0, np.float32), explore=False)  # evaluation leaves the statistics alone
    np.testing.assert_array_equal(agent.obs_rms.mean, before)


def test_reward_normalisation_divides_by_the_discounted_return_std():
    from advdl.api.interfaces import RolloutBatch

    agent = make_agent(action_space=spaces.Discrete(2), normalize_reward=True, n_envs=1, gamma=0.5)
    rewards = np.full((4, 1), 10.0, np.float32)
    zeros = np.zeros((4, 1), np.float32)
    scaled = agent.scale_rewards(RolloutBatch(None, None, rewards, zeros, zeros, None))
    returns = np.array([10.0, 15.0, 17.5, 18.75])  # r + 0.5 * previous
    count = 1e-4 + 4
    mean = returns.sum() / count
    var = (1e-4 * (1 + mean**2) + ((returns - mean) ** 2).sum()) / count  # the prior: mean 0, var 1, count 1e-4
    assert scaled[-1, 0] == pytest.approx(10.0 / math.sqrt(var), rel=1e-3)


@pytest.mark.slow  # a learning or multi-process run: the default suite stays under 8 minutes
def test_saved_model_includes_encoder_and_normalisation(tmp_path):
    import keras

    space = spaces.Box(np.array([-1.2, -0.07], np.float32), np.array([0.6, 0.07], np.float32))
    agent = make_agent(space, spaces.Box(-1.0, 1.0, (1,), np.float32), state_encoder="autoencoder",
                       normalize_obs=True, sde=True)
    assert agent.encoder_mse < 0.01  # the autoencoder really reconstructs the (scaled) states
    rng = np.random.default_rng(0)
    obs = rng.uniform(space.low, space.high, (64, 2)).astype(np.float32)
    agent.act(obs, explore=True)  # moves the running statistics away from their start
    agent.save_model(tmp_path / "model.keras")
    actions, values = keras.models.load_model(tmp_path / "model.keras")(obs)
    np.testing.assert_allclose(actions.numpy(), agent.act(obs, explore=False), atol=1e-4)
    np.testing.assert_allclose(values.numpy()[:, 0], agent.values(obs), atol=1e-4)
    fresh = make_agent(space, spaces.Box(-1.0, 1.0, (1,), np.float32), state_encoder="autoencoder",
                       normalize_obs=True, sde=True, hidden_sizes=(16,), learning_rate=1e-3)
    fresh.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(fresh.act(obs, explore=False), agent.act(obs, explore=False), atol=1e-5)
    np.testing.assert_allclose(fresh.log_std.numpy(), agent.log_std.numpy())


def test_encoder_needs_a_bounded_observation_space_and_settings_are_checked():
    with pytest.raises(EnvSpaceError, match="unbounded"):
        make_agent(spaces.Box(-np.inf, np.inf, (3,), np.float32), state_encoder="autoencoder")
    from advdl_plugins.policy_gradient import A2CConfig

    for bad in ({"sde_sample_freq": 0}, {"sde_sample_freq": -2}, {"learning_rate_end": -1.0}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            build(A2CConfig, bad, "a2c hyperparameters")


def test_learning_rate_decays_linearly_to_its_end_value():
    from advdl.api.interfaces import RolloutBatch

    agent = make_agent(learning_rate=1e-3, learning_rate_end=1e-4, n_envs=1)  # total_steps=100
    obs = observations(1)
    one = lambda x: np.asarray(x, np.float32)[None]  # noqa: E731
    batch = RolloutBatch(one(obs), one(agent.act(obs, True)), one([1.0]), one([0.0]), one([0.0]), one(obs))
    for steps, expected in ((0, 1e-3), (50, 5.5e-4), (100, 1e-4), (150, 1e-4)):
        agent.on_step(steps, 0)
        agent.train_step(batch)
        assert float(agent.optimizer.learning_rate.numpy()) == pytest.approx(expected, rel=1e-5)


def test_a2c_preset_reaches_the_flag_on_mountain_car_continuous(tmp_path):
    # gSDE + observation normalisation: solved (>= 90) in about 4 s; the book's target is 90
    summary = run_algorithm("a2c", "MountainCarContinuous-v0", tmp_path, eval_interval=0, final_eval_episodes=20)
    assert summary["episodes"] == 1000
    assert summary["terminated_episodes"] >= 900  # training episodes that reached the flag
    assert summary["eval"]["mean"] >= 90


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["a2c", "reinforce-baseline"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mountain_car_presets_score_90_over_100_episodes(tmp_path, algorithm, seed):
    # the target, met on every seed: >= 90 over 100 evaluation episodes within 1,000 training episodes
    summary = run_algorithm(algorithm, "MountainCarContinuous-v0", tmp_path, seed=seed)
    assert summary["episodes"] <= 1000 and summary["eval"]["episodes"] == 100
    assert summary["eval"]["mean"] >= 90
