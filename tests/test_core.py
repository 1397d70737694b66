"""Core pieces on their own: replay buffer, checkpoints, config coercion, the Trainer's contract."""

import numpy as np
import pytest

from advdl.api.errors import CheckpointError, ConfigError, PluginError
from advdl.rl.replay import ReplayBuffer
from advdl.runs import checkpoint
from advdl.settings.values import coerce, parse_assignments


def test_replay_buffer_is_a_ring_and_samples_stacked_minibatches():
    buffer = ReplayBuffer(5, (2,), np.float32)
    for i in range(7):
        buffer.add(np.full(2, i), i % 2, float(i), np.full(2, i + 1), i == 6)
    assert buffer.size == 5 and buffer.position == 2
    assert sorted(buffer.rewards) == [2.0, 3.0, 4.0, 5.0, 6.0]  # 0 and 1 were overwritten
    batch = buffer.sample(np.random.default_rng(0), 3, 4)
    assert batch.obs.shape == (3, 4, 2) and batch.actions.shape == (3, 4) and batch.terminated.shape == (3, 4)
    np.testing.assert_array_equal(batch.next_obs[..., 0], batch.obs[..., 0] + 1)
    np.testing.assert_array_equal(batch.terminated, batch.rewards == 6.0)
    copy = ReplayBuffer(5, (2,), np.float32)
    copy.load_state(buffer.state())
    assert copy.size == 5 and copy.position == 2
    np.testing.assert_array_equal(copy.obs, buffer.obs)


def test_checkpoints_are_verified_and_only_the_last_two_kept(tmp_path):
    for step in (10, 20, 30):
        checkpoint.save(tmp_path, step, {"step": step, "array": np.arange(step)})
    assert [p.name for p in checkpoint.list_checkpoints(tmp_path)] == ["step-0000000020.ckpt", "step-0000000030.ckpt"]
    state = checkpoint.load_latest(tmp_path)
    assert state["step"] == 30 and (state["array"] == np.arange(30)).all()
    assert not list(tmp_path.glob(".*tmp*"))  # nothing half-written left behind
    path = checkpoint.list_checkpoints(tmp_path)[-1]
    intact = path.read_bytes()
    path.write_bytes(intact[:-1])
    with pytest.raises(CheckpointError, match="truncated"):
        checkpoint.load(path)
    path.write_bytes(intact[:-1] + bytes([intact[-1] ^ 1]))
    with pytest.raises(CheckpointError, match="checksum"):
        checkpoint.load(path)
    reports = []  # a damaged newest checkpoint falls back to the older intact one, saying so
    assert checkpoint.load_latest(tmp_path, report=reports.append)["step"] == 20
    assert len(reports) == 1 and "checksum" in reports[0] and "step-0000000020.ckpt" in reports[0]
    with pytest.raises(CheckpointError, match="no checkpoint"):
        checkpoint.load_latest(tmp_path / "empty")


def test_a_checkpoint_is_read_only_as_far_as_its_header_says(tmp_path):
    path = checkpoint.save(tmp_path, 1, {"a": np.arange(10)})
    path.write_bytes(path.read_bytes() + b"appended")  # a payload appended to a real checkpoint
    with pytest.raises(CheckpointError, match="header says"):
        checkpoint.load(path)
    huge = tmp_path / "step-0000000002.ckpt"
    huge.write_bytes(checkpoint.MAGIC + (2**62).to_bytes(8, "little") + bytes(32))
    with pytest.raises(CheckpointError, match="header says"):
        checkpoint.load(huge)
    with pytest.raises(CheckpointError, match="of memory needed"):
        checkpoint.check_fits(2**62, "a checkpoint", error=CheckpointError)


@pytest.mark.parametrize("value, tp, expected", [
    ("1e-3", float, 1e-3), ("5_000", int, 5000), ("1e5", int, 100_000), ("false", bool, False),
    ("64,64", tuple[int, ...], (64, 64)), ([32], tuple[int, ...], (32,)), ("none", float | None, None),
    ("0.5", float | None, 0.5),
])
def test_values_are_coerced_from_strings_and_yaml(value, tp, expected):
    assert coerce("x", value, tp) == expected


@pytest.mark.parametrize("value, tp", [("abc", int), ("1.5", int), ("maybe", bool), (True, int), ("x", float)])
def test_wrong_types_are_config_errors(value, tp):
    with pytest.raises(ConfigError, match="x: expected"):
        coerce("x", value, tp)


def test_assignments_need_an_equals_sign():
    assert parse_assignments(["learning-rate=1", "a = b"]) == {"learning_rate": "1", "a": "b"}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_assignments(["oops"])


def test_trainer_rejects_a_data_kind_it_cannot_feed(tmp_path):
    import gymnasium as gym

    from advdl.api.interfaces import Agent
    from advdl.rl.settings import RunConfig
    from advdl.rl.trainer import Trainer

    class TrajectoryAgent(Agent):
        data = "trajectories"

        def act(self, obs, explore):
            return np.zeros(len(obs), dtype=int)

        def train_step(self, batch):
            return {}

        def save_model(self, path):
            pass

        def load_model(self, path):
            pass

        def get_state(self):
            return {}

        def set_state(self, state):
            pass

    env = gym.make("CartPole-v1")
    agent = TrajectoryAgent(None, env.observation_space, env.action_space, seed=0, total_steps=10)
    with pytest.raises(PluginError, match="trajectories"):
        Trainer(agent, lambda: gym.make("CartPole-v1"), RunConfig(env="CartPole-v1", steps=10), tmp_path)


def _rl_methods():
    return {"act": lambda self, obs, explore: obs, "train_step": lambda self, batch: {},
            "save_model": lambda self, path: None, "load_model": lambda self, path: None}


def _data_methods():
    return {"train_step": lambda self, images, labels: {}, "evaluate": lambda self, images, labels: {},
            "save_model": lambda self, path: None, "load_model": lambda self, path: None}


def test_an_agent_or_model_without_state_methods_fails_when_its_class_is_defined():
    from advdl.api.interfaces import Agent, Model

    with pytest.raises(TypeError, match=r"^Stateless \(.*\) must define get_state\(\) and set_state\(\)"):
        type("Stateless", (Agent,), _rl_methods())
    with pytest.raises(TypeError, match=r"Half .*must define get_state\(\) and set_state\(\)"):
        type("Half", (Agent,), {**_rl_methods(), "get_state": lambda self: {}})
    with pytest.raises(TypeError, match=r"Stateless .*must define state_parts\(\), or get_state\(\) and set_state"):
        type("Stateless", (Model,), _data_methods())
    abstract = type("Abstract", (Agent,), {"act": lambda self, obs, explore: obs})  # train_step left: no check
    state = {"get_state": lambda self: {}, "set_state": lambda self, state: None}
    agent = type("Stateful", (abstract,), {**_rl_methods(), **state})
    type("Subclass", (agent,), {})  # inherits its state methods
    type("Parts", (Model,), {**_data_methods(), "state_parts": lambda self: {}})
    type("Whole", (Model,), {**_data_methods(), **state})


def test_per_episode_training_follows_episode_ends(tmp_path):
    """train_freq_unit=episode (the book): one training round at every episode end."""
    from advdl.testing import run_algorithm

    rounds = []

    class CountRounds:
        def on_episode_end(self, trainer, episode_return, episode_length):
            rounds.append(int(trainer.agent.updates.numpy()))

    summary = run_algorithm("dqn", "CartPole-v1", tmp_path, steps=600, preset="none", hidden_sizes=(16,),
                            train_freq=1, train_freq_unit="episode", gradient_steps=2, learning_starts=64,
                            batch_size=32, eval_interval=0, callbacks=[CountRounds()])
    assert summary["episodes"] == len(rounds) > 5
    # on_episode_end runs before that episode's training round, so the count trails by one round
    started = next(i for i, r in enumerate(rounds) if r > 0) if any(rounds) else len(rounds)
    assert rounds[started:] == [2 * (k + 1) for k in range(len(rounds) - started)]
