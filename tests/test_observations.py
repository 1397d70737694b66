"""Observation encoders (advdl.api.ObservationEncoder) against hand-computed encodings, and every
neural RL agent acting on every standard observation space."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from advdl.api import EnvSpaceError, ObservationEncoder, flat_space, is_image_space, torso_parameters


def test_discrete_is_one_hot_from_its_start():
    encode = ObservationEncoder(spaces.Discrete(4, start=2))
    assert encode.shape == (4,) and not encode.image
    np.testing.assert_array_equal(encode(np.array([2, 5, 3])), [[1, 0, 0, 0], [0, 0, 0, 1], [0, 1, 0, 0]])


def test_multi_discrete_concatenates_one_hots():
    encode = ObservationEncoder(spaces.MultiDiscrete([3, 2], start=[0, 1]))
    assert encode.shape == (5,)
    np.testing.assert_array_equal(encode(np.array([[2, 1], [0, 2]])), [[0, 0, 1, 1, 0], [1, 0, 0, 0, 1]])


def test_multi_binary_and_box_are_flat_floats():
    bits = ObservationEncoder(spaces.MultiBinary([2, 2]))
    out = bits(np.array([[[1, 0], [0, 1]]], np.int8))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[1, 0, 0, 1]])
    box = ObservationEncoder(spaces.Box(-1, 1, (2, 3)))
    assert box.shape == (6,)
    np.testing.assert_array_equal(box(np.arange(12).reshape(2, 2, 3)), np.arange(12).reshape(2, 6))


def test_images_are_scaled_channels_last():
    last = ObservationEncoder(spaces.Box(0, 255, (5, 6, 3), np.uint8))
    first = ObservationEncoder(spaces.Box(0, 255, (3, 5, 6), np.uint8))
    grey = ObservationEncoder(spaces.Box(0, 255, (5, 6), np.uint8))
    assert last.image and first.image and grey.image
    assert last.shape == first.shape == (5, 6, 3) and grey.shape == (5, 6, 1)
    image = np.random.default_rng(0).integers(0, 256, (2, 5, 6, 3), dtype=np.uint8)
    np.testing.assert_allclose(last(image), image / 255.0, atol=1e-7)
    np.testing.assert_allclose(first(image.transpose(0, 3, 1, 2)), image / 255.0, atol=1e-7)
    assert grey(image[..., 0]).shape == (2, 5, 6, 1)
    # not images: float pixels, or uint8 values not spanning [0, 255]
    assert not is_image_space(spaces.Box(0.0, 1.0, (5, 6, 3)))
    assert not is_image_space(spaces.Box(0, 10, (5, 6, 3), np.uint8))


def test_dict_and_tuple_flatten_with_one_hot_parts():
    space = spaces.Dict({"position": spaces.Box(-1, 1, (2,)), "room": spaces.Discrete(3)})
    flat = flat_space(space)
    assert isinstance(flat, spaces.Box) and flat.shape == (5,)
    obs = {"position": np.array([0.5, -0.5], np.float32), "room": 2}
    np.testing.assert_array_equal(spaces.flatten(space, obs), [0.5, -0.5, 0, 0, 1])
    assert flat_space(spaces.Tuple((spaces.Discrete(2), spaces.MultiBinary(2)))).shape == (4,)
    with pytest.raises(EnvSpaceError, match="flat_observations"):
        ObservationEncoder(space)


def test_cnn_torso_sizes():
    weights, features = torso_parameters(ObservationEncoder(spaces.Box(0, 255, (10, 10, 3), np.uint8)))
    # 3x3x3x16+16, 3x3x16x32+32, then 6x6x32 -> 256
    assert (weights, features) == (448 + 4640 + (1152 + 1) * 256, 256)
    weights, _ = torso_parameters(ObservationEncoder(spaces.Box(0, 255, (84, 84, 4), np.uint8)))
    # the Nature CNN: 20x20x32, 9x9x64, 7x7x64 -> 256
    assert weights == (8 * 8 * 4 + 1) * 32 + (4 * 4 * 32 + 1) * 64 + (3 * 3 * 64 + 1) * 64 + (3136 + 1) * 256
    with pytest.raises(EnvSpaceError, match="too small"):
        torso_parameters(ObservationEncoder(spaces.Box(0, 255, (4, 4, 3), np.uint8)))


class DictRooms(gym.Env):
    """A Dict observation: which of 3 rooms, and a position; for the flattening path end to end."""

    observation_space = spaces.Dict({"room": spaces.Discrete(3), "position": spaces.Box(-1, 1, (2,))})
    action_space = spaces.Discrete(2)

    def __init__(self, render_mode=None):
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.observation_space.sample(), {}

    def step(self, action):
        self.t += 1
        return self.observation_space.sample(), float(action), self.t >= 5, False, {}


SPACES = {
    "discrete": spaces.Discrete(5),
    "multidiscrete": spaces.MultiDiscrete([3, 4]),
    "multibinary": spaces.MultiBinary(3),
    "image": spaces.Box(0, 255, (8, 8, 3), np.uint8),
    "flat dict": flat_space(DictRooms.observation_space),
}


def batch_for(agent, obs, actions):
    """A batch of the agent's data kind from 4 observations and actions."""
    from advdl.api import EpisodeBatch, ReplayBatch, RolloutBatch, Transition

    rewards, zeros = np.ones(4, np.float32), np.zeros(4, np.float32)
    if agent.data == "replay":
        return ReplayBatch(obs[None], actions[None], rewards[None], obs[None], zeros[None])
    if agent.data == "rollouts":
        column = (slice(None), None)  # (t=4, n=1)
        return RolloutBatch(obs[column], actions[column], rewards[column], zeros[column], zeros[column], obs[column])
    if agent.data == "episodes":
        return EpisodeBatch(obs, actions, rewards, True, obs[-1])
    return Transition(obs[0], actions[0], 1.0, obs[1], False)


SETTINGS = {"dqn": {"batch_size": 4}, "a2c": {"n_envs": 1, "n_steps": 4}, "reinforce": {}, "actor-critic": {}}
FAST = {("dqn", "image"), ("dqn", "discrete"), ("a2c", "multidiscrete")}  # the rest: slow


@pytest.mark.parametrize("name,space", [
    pytest.param(name, space, marks=() if (name, space) in FAST else pytest.mark.slow)
    for name in SETTINGS for space in SPACES])
def test_every_neural_agent_acts_and_learns_on_every_space(name, space, advdl_registry):
    """One act and one train step on each space: valid actions, and the networks take the encoding."""
    spec = advdl_registry.algorithm(name)
    obs_space, action_space = SPACES[space], spaces.Discrete(2)
    agent_class = spec.load_class()
    agent_class.check_spaces(obs_space, action_space)
    agent = agent_class(spec.config(**SETTINGS[name]), obs_space, action_space, seed=0, total_steps=100)
    obs = np.stack([obs_space.sample() for _ in range(4)])
    actions = agent.act(obs, explore=True)
    assert actions.shape == (4,) and set(actions.tolist()) <= {0, 1}
    assert agent.act(obs, explore=False).shape == (4,)
    metrics = agent.train_step(batch_for(agent, obs, actions))
    assert np.isfinite(metrics["loss"])


def test_dict_observations_reach_the_agent_flattened(advdl_run):
    """An env with a Dict observation space trains end to end: the run flattens it for the agent."""
    gym.register("advdl-test/DictRooms-v0", entry_point=DictRooms, max_episode_steps=5)
    try:
        run = advdl_run("a2c", "advdl-test/DictRooms-v0", steps=400, n_envs=2)
    finally:
        del gym.registry["advdl-test/DictRooms-v0"]
    assert run.summary["env_steps"] >= 400
    assert run.summary["eval"]["mean"] == 5.0  # action 1 pays 1 a step: learned within 400 steps


@pytest.mark.parametrize("action_space", [spaces.MultiDiscrete([3, 2], start=[1, 0]), spaces.MultiBinary(2)],
                         ids=["multidiscrete", "multibinary"])
def test_policy_gradient_factored_actions(action_space, advdl_registry):
    """One categorical per action dimension: valid samples, and the log-probability and entropy are the sums
    of each dimension's, from the actor's logits split by dimension."""
    import tensorflow as tf

    spec = advdl_registry.algorithm("a2c")
    obs_space = spaces.Box(-1, 1, (3,))
    agent = spec.load_class()(spec.config(n_envs=1), obs_space, action_space, seed=0, total_steps=100)
    obs = np.random.default_rng(0).uniform(-1, 1, (64, 3)).astype(np.float32)
    actions = agent.act(obs, explore=True)
    assert actions.shape == (64, 2) and all(action_space.contains(a) for a in actions)
    greedy = agent.act(obs, explore=False)
    assert all(action_space.contains(a) for a in greedy)
    sizes, starts = (np.array([3, 2]), np.array([1, 0])) if isinstance(action_space, spaces.MultiDiscrete) \
        else (np.array([2, 2]), np.array([0, 0]))
    logits = agent.actor(obs).numpy()
    log_prob, entropy = agent.log_prob_and_entropy(tf.constant(obs), tf.constant((actions - starts).astype(np.int32)))
    expected_log_prob, expected_entropy = np.zeros(64), np.zeros(64)
    for j, part in enumerate(np.split(logits, np.cumsum(sizes)[:-1], axis=1)):
        log_softmax = part - np.log(np.exp(part).sum(axis=1, keepdims=True))
        expected_log_prob += log_softmax[np.arange(64), actions[:, j] - starts[j]]
        expected_entropy -= (np.exp(log_softmax) * log_softmax).sum(axis=1)
        np.testing.assert_array_equal(greedy[:, j] - starts[j], part.argmax(axis=1))
    np.testing.assert_allclose(log_prob.numpy(), expected_log_prob, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(entropy.numpy(), expected_entropy, rtol=1e-5, atol=1e-6)


# -- learning through the encoders (slow: minutes each) ---------------------------------------------------------
@pytest.mark.slow
def test_dqn_learns_taxi_through_one_hot_states(advdl_run):
    """Taxi-v4's optimum is about 8 (20 for the drop-off less the steps); a policy that never delivers gets
    -200, random play about -770. 6 or more over 20 episodes delivers every passenger within a few steps of
    the shortest route."""
    run = advdl_run("dqn", "Taxi-v4", tiny=False)
    assert run.summary["preset"] == "Taxi-v4"
    assert run.summary["eval"]["mean"] >= 6.0


@pytest.mark.slow
def test_cnn_dqn_learns_the_pixel_grid(advdl_run):
    """Only pixels show where the agent and the goal are (both random every episode): random play returns
    -0.17, the optimum 0.944; the env's threshold 0.85 is reached only by reading the image."""
    run = advdl_run("dqn", "advdl/PixelGrid-v0", tiny=False)
    assert run.summary["eval"]["mean"] >= 0.85


@pytest.mark.parametrize("name", ["a2c", "dqn"])
def test_image_runs_save_a_model_that_evaluates_the_same(name, advdl_run, advdl_registry):
    """A tiny run on pixels end to end: the saved model (CNN torso included) loads into a fresh agent
    whose evaluation gives the run's own final evaluation (the same episodes)."""
    from advdl.runs.start import evaluate_run

    run = advdl_run(name, "advdl/PixelGrid-v0", final_eval_episodes=3, **SETTINGS[name])
    again = evaluate_run(run.path, advdl_registry, episodes=3)
    assert again["mean"] == run.summary["eval"]["mean"] and again["std"] == run.summary["eval"]["std"]


def test_a2c_learns_the_frozen_lake_through_one_hot_states(advdl_run):
    """The deterministic 4x4 lake: random play reaches the goal 1.5% of the time, the optimum always; only
    the state's one-hot code tells the cells apart."""
    run = advdl_run("a2c", "FrozenLake-v1", env_kwargs={"is_slippery": False}, steps=20_000,
                    final_eval_episodes=20)
    assert run.summary["eval"]["mean"] == 1.0
