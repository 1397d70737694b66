"""Environment state as plain data: exact round trips through a checkpoint, hostile states refused
without running code, environments that are not plain data, and the trust switch."""

import os
import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from advdl.api.errors import CheckpointError
from advdl.loading.manager import get_registry
from advdl.rl import envstate
from advdl.rl.environments import make_env
from advdl.rl.vector import AsyncEnvs, SyncEnvs, restored_env
from advdl.runs import checkpoint

ENVS = [("CartPole-v1", {}), ("Acrobot-v1", {}), ("MountainCar-v0", {}), ("MountainCarContinuous-v0", {}),
        ("Pendulum-v1", {}), ("FrozenLake-v1", {"is_slippery": True}),
        ("CliffWalking-v1" if "CliffWalking-v1" in gym.registry else "CliffWalking-v0", {}),
        ("Taxi-v3" if "Taxi-v3" in gym.registry else "Taxi-v4", {}), ("Blackjack-v1", {}), ("advdl/QWorld-v0", {}),
        ("advdl/PixelGrid-v0", {})]


def make(env_id, **kwargs):
    """The environment as a run makes it (TimeLimit, OrderEnforcing, PassiveEnvChecker), plus episode
    statistics; a short time limit so that every environment ends episodes."""
    return gym.wrappers.RecordEpisodeStatistics(make_env(env_id, get_registry(), {"max_episode_steps": 25, **kwargs}))


def through_a_checkpoint(state):
    return checkpoint.decode(checkpoint.encode(state))


def stepped(env_id, kwargs=None, steps=40):
    env = make(env_id, **(kwargs or {}))
    env.reset(seed=3)
    env.action_space.seed(5)
    env.observation_space.seed(6)  # an unseeded space samples from OS entropy, resumed or not
    for _ in range(steps):
        if any(env.step(env.action_space.sample())[2:4]):
            env.reset()
    return env


def assert_same_future(a, b, steps=120):
    """Both environments give the same samples, observations, rewards and ends, across resets."""
    ends = 0
    for _ in range(steps):
        action = a.action_space.sample()
        np.testing.assert_equal(b.action_space.sample(), action)
        np.testing.assert_equal(b.observation_space.sample(), a.observation_space.sample())
        outcome = a.step(action)
        np.testing.assert_equal(b.step(action)[:4], outcome[:4])
        if outcome[2] or outcome[3]:
            ends += 1
            np.testing.assert_equal(b.reset()[0], a.reset()[0])  # unseeded: each environment's own RNG
    return ends


@pytest.mark.parametrize("env_id, kwargs", ENVS, ids=[e for e, _ in ENVS])
def test_an_environment_continues_exactly_on_a_fresh_one(env_id, kwargs):
    env = stepped(env_id, kwargs)
    fresh = make(env_id, **kwargs)
    envstate.set_state(fresh, through_a_checkpoint(envstate.get_state(env)))
    assert assert_same_future(env, fresh) > 0


def test_the_state_is_plain_data_and_names_the_wrapper_chain():
    state = envstate.get_state(stepped("CartPole-v1"))
    assert [layer["class"].rsplit(".", 1)[1] for layer in state["layers"]] == [
        "RecordEpisodeStatistics", "TimeLimit", "OrderEnforcing", "PassiveEnvChecker", "CartPoleEnv"]
    unwrapped = state["layers"][-1]["attributes"]
    assert "spec" not in unwrapped and "screen" not in unwrapped
    assert unwrapped["_np_random"]["__rng__"]["bit_generator"] == "PCG64"
    assert "env" not in state["layers"][0]["attributes"]
    assert set(state["layers"][0]["attributes"]["return_queue"]) == {"__deque__", "maxlen"}


# -- hostile states: a checksum anyone can recompute is no defence ------------------------------
def cartpole(state):
    return state["layers"][-1]["attributes"]


HOSTILE = {
    "another environment": (lambda s: s["layers"].__setitem__(-1, envstate.get_state(make("Acrobot-v1"))["layers"][-1]),
                            "does not fit this run"),
    "a class named by the file": (lambda s: s["layers"][-1].update({"class": "os.system"}), "does not fit this run"),
    "a dunder attribute": (lambda s: cartpole(s).update({"__class__": "x"}), "attribute name"),
    "not an identifier": (lambda s: cartpole(s).update({"a.b": 1}), "attribute name"),
    "a number for a space": (lambda s: cartpole(s).update({"action_space": 5}), "a Discrete, with plain data"),
    "a number for a method": (lambda s: cartpole(s).update({"step": 5}), "a function, with plain data"),
    "a wrapped env": (lambda s: s["layers"][1]["attributes"].update({"env": 5}), "not restored"),
    "a bit generator not allowed": (lambda s: cartpole(s)["_np_random"]["__rng__"].update({"bit_generator": "os.system"}),
                                    "bit generator 'os.system'"),
    "a number for a generator": (lambda s: cartpole(s)["action_space"].update({"__space__": 3}), "generator of space"),
    "an unknown tag": (lambda s: cartpole(s).update({"state": {"__reduce__": ["os", "system"]}}), "tagged"),
    "a dangling reference": (lambda s: cartpole(s).update({"state": {"__same__": 9}}), "reference"),
    "a bad deque": (lambda s: s["layers"][0]["attributes"].update({"time_queue": {"__deque__": [], "maxlen": -1}}),
                    "maxlen"),
    "bytes": (lambda s: s.update({"layers": b"\x80\x04"}), "malformed"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_state_is_refused_as_one_line(name):
    edit, message = HOSTILE[name]
    state = envstate.get_state(stepped("CartPole-v1"))
    edit(state)
    fresh = make("CartPole-v1")
    with pytest.raises(CheckpointError, match=message) as caught:
        envstate.set_state(fresh, through_a_checkpoint(state))
    assert "\n" not in str(caught.value)
    assert callable(fresh.unwrapped.step) and isinstance(fresh.unwrapped.action_space, spaces.Discrete)


class Planted:
    """Unpickling this calls ``os.system``: it creates the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_pickled_snapshot_is_not_unpickled_without_the_trust_switch(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("ADVDL_TRUST_CHECKPOINTS", raising=False)
    marker = tmp_path / "pwned"
    envs = SyncEnvs(lambda: make("CartPole-v1"), 1)
    before = envs.envs
    assert envs.restore([pickle.dumps(Planted(marker))]) is False
    assert envs.envs is before and not marker.exists()
    err = capsys.readouterr().err
    assert "pickle format" in err and "ADVDL_TRUST_CHECKPOINTS=1" in err and "restart" in err
    with pytest.raises(CheckpointError, match="malformed"):
        envstate.set_state(make("CartPole-v1"), pickle.dumps(Planted(marker)))
    assert not marker.exists()


# -- environments that are not plain data ------------------------------------------------------
class Simulator:
    """Stands in for a simulator handle: an object, not plain data."""

    def __init__(self):
        self.position = 0.0


class SimulatorEnv(gym.Env):
    def __init__(self):
        self.observation_space = spaces.Box(-np.inf, np.inf, (1,), np.float64)
        self.action_space = spaces.Discrete(2)
        self.sim = Simulator()
        self.steps = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.sim.position, self.steps = self.np_random.normal(), 0
        return np.array([self.sim.position]), {}

    def step(self, action):
        self.sim.position += action - 0.5 + 0.1 * self.np_random.normal()
        self.steps += 1
        return np.array([self.sim.position]), -abs(self.sim.position), abs(self.sim.position) > 2, False, {}


class ExactSimulatorEnv(SimulatorEnv):
    """The protocol for plugin authors: what is not plain data, as plain data, and back."""

    def get_state(self):
        return {"position": self.sim.position}

    def set_state(self, state):
        self.sim.position = state["position"]


def simulator(cls=SimulatorEnv):
    env = gym.wrappers.TimeLimit(gym.wrappers.OrderEnforcing(cls()), 30)
    env.reset(seed=1)
    env.action_space.seed(2)
    env.observation_space.seed(3)
    return env


def test_an_environment_that_is_not_plain_data_is_unsupported_and_told_once(capsys, monkeypatch):
    monkeypatch.delenv("ADVDL_TRUST_CHECKPOINTS", raising=False)
    with pytest.raises(envstate.NotPlainData, match="SimulatorEnv.sim holds a .*Simulator"):
        envstate.get_state(simulator())
    envs = SyncEnvs(simulator, 2)
    assert envs.snapshot() == [None, None] and envs.snapshot() == [None, None]
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "SimulatorEnv.sim" in lines[0] and "restarts the episode" in lines[0]
    assert "get_state()/set_state()" in lines[0]
    assert envs.restore([None, None]) is False
    assert "episodes in progress restart" in capsys.readouterr().err


def test_an_environment_with_get_state_and_set_state_continues_exactly():
    env = simulator(ExactSimulatorEnv)
    for _ in range(7):
        env.step(1)
    state = through_a_checkpoint(envstate.get_state(env))
    assert state["layers"][-1]["own"] == {"position": env.unwrapped.sim.position}
    assert "steps" in state["layers"][-1]["attributes"]  # its plain attributes are kept as usual
    fresh = gym.wrappers.TimeLimit(gym.wrappers.OrderEnforcing(ExactSimulatorEnv()), 30)
    envstate.set_state(fresh, state)
    assert assert_same_future(env, fresh) > 0


def test_the_trust_switch_pickles_an_environment_that_is_not_plain_data(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("ADVDL_TRUST_CHECKPOINTS", "1")
    envs = SyncEnvs(simulator, 1)
    envs.envs[0].step(1)
    snapshot = envs.snapshot()
    assert type(snapshot[0]) is bytes and capsys.readouterr().err == ""
    original = envs.envs[0]
    assert envs.restore(snapshot) is True and envs.envs[0] is not original
    assert assert_same_future(original, envs.envs[0]) > 0
    restored_env(None, pickle.dumps(Planted(tmp_path / "trusted")))
    assert (tmp_path / "trusted").exists()  # the switch is real: only for run folders you trust


def test_async_envs_restore_inside_their_subprocesses(capsys, monkeypatch):
    monkeypatch.delenv("ADVDL_TRUST_CHECKPOINTS", raising=False)

    def factory():
        return make("advdl/QWorld-v0")

    envs = AsyncEnvs(factory, 2)
    try:
        envs.reset(seed=0)
        for actions in ([2, 1], [1, 0]):
            envs.step(np.array(actions))
        snapshot = envs.snapshot()
        assert all(type(entry) is dict for entry in snapshot)
        assert envs.restore(through_a_checkpoint(snapshot)) is True
        same = SyncEnvs(factory, 2)
        assert same.restore(through_a_checkpoint(snapshot)) is True
        for actions in ([2, 2], [0, 2], [2, 1]):
            np.testing.assert_equal(envs.step(np.array(actions))[:4], same.step(np.array(actions))[:4])
        planted = through_a_checkpoint(snapshot)
        planted[1]["layers"][-1]["attributes"]["step"] = 1
        with pytest.raises(CheckpointError, match="with plain data"):  # in this process, before any subprocess
            envs.restore(planted)
    finally:
        envs.close()
    capsys.readouterr()
    unsupported = AsyncEnvs(simulator, 1)
    try:
        assert unsupported.snapshot() == [None] and unsupported.restore([None]) is False
    finally:
        unsupported.close()
    err = capsys.readouterr().err
    assert "SimulatorEnv.sim" in err and "episodes in progress restart" in err
