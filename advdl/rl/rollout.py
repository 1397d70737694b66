"""On-policy data: a preallocated buffer of ``n_steps`` steps from ``n_envs`` environments, and
the transitions of the episode under way."""

import numpy as np

from advdl.api.interfaces import EpisodeBatch, RolloutBatch
from advdl.api.memory import array_bytes, check_fits

# the buffer, the copies take() hands over, and the agent's float32 arrays made from them
ROLLOUT_COPIES = 3


def check_rollout(n_steps, n_envs, obs_shape, obs_dtype, action_shape, action_dtype):
    """Before anything is allocated: a rollout of ``n_steps`` x ``n_envs`` steps must fit in memory."""
    per_step = 2 * array_bytes(obs_shape, obs_dtype) + array_bytes(action_shape, action_dtype) + 12
    check_fits(ROLLOUT_COPIES * n_steps * n_envs * per_step,
               f"a rollout of n_steps x n_envs = {n_steps:,} x {n_envs:,} steps", "; lower n_steps or n_envs")


class RolloutBuffer:
    def __init__(self, n_steps, n_envs, obs_shape, obs_dtype, action_shape, action_dtype):
        check_rollout(n_steps, n_envs, obs_shape, obs_dtype, action_shape, action_dtype)
        self.n_steps = n_steps
        self.obs = np.zeros((n_steps, n_envs, *obs_shape), dtype=obs_dtype)
        self.next_obs = np.zeros_like(self.obs)
        self.actions = np.zeros((n_steps, n_envs, *action_shape), dtype=action_dtype)
        self.rewards = np.zeros((n_steps, n_envs), dtype=np.float32)
        self.terminated = np.zeros((n_steps, n_envs), dtype=np.float32)
        self.truncated = np.zeros((n_steps, n_envs), dtype=np.float32)
        self.step = 0

    def add(self, env_index, obs, action, reward, next_obs, terminated, truncated):
        t = self.step
        self.obs[t, env_index] = obs
        self.actions[t, env_index] = action
        self.rewards[t, env_index] = reward
        self.next_obs[t, env_index] = next_obs
        self.terminated[t, env_index] = terminated
        self.truncated[t, env_index] = truncated

    def advance(self):
        """Close one step of all environments; True when the rollout is full."""
        self.step += 1
        return self.step == self.n_steps

    def take(self):
        """The full rollout (copies), and an empty buffer."""
        self.step = 0
        return RolloutBatch(self.obs.copy(), self.actions.copy(), self.rewards.copy(), self.terminated.copy(),
                            self.truncated.copy(), self.next_obs.copy())

    def state(self):
        return {name: getattr(self, name).copy() for name in
                ("obs", "next_obs", "actions", "rewards", "terminated", "truncated")} | {"step": self.step}

    def load_state(self, state):
        for name in ("obs", "next_obs", "actions", "rewards", "terminated", "truncated"):
            if np.shape(state[name]) != getattr(self, name).shape:
                raise ValueError(f"rollout {name} has shape {np.shape(state[name])}, expected {getattr(self, name).shape}")
            getattr(self, name)[...] = state[name]
        if not (isinstance(state["step"], (int, np.integer)) and 0 <= state["step"] < self.n_steps):
            raise ValueError(f"rollout step {state['step']!r} does not fit a rollout of {self.n_steps} steps")
        self.step = int(state["step"])


class EpisodeBuffer:
    def __init__(self):
        self.obs, self.actions, self.rewards = [], [], []

    def add(self, obs, action, reward):
        self.obs.append(np.array(obs))
        self.actions.append(np.array(action))
        self.rewards.append(float(reward))

    def take(self, terminated, last_obs):
        """The finished episode, and an empty buffer."""
        batch = EpisodeBatch(np.stack(self.obs), np.stack(self.actions), np.asarray(self.rewards, np.float32),
                             bool(terminated), np.array(last_obs))
        self.obs, self.actions, self.rewards = [], [], []
        return batch

    def state(self):
        return {"obs": list(self.obs), "actions": list(self.actions), "rewards": list(self.rewards)}

    def load_state(self, state):
        self.obs, self.actions, self.rewards = list(state["obs"]), list(state["actions"]), list(state["rewards"])
