"""A preallocated numpy replay buffer (a ring), sampled as stacked minibatches."""

import numpy as np

from .interfaces import ReplayBatch


class ReplayBuffer:
    def __init__(self, capacity, obs_shape, obs_dtype, action_shape=(), action_dtype=np.int64):
        self.capacity = capacity
        self.obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.next_obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.actions = np.zeros((capacity, *action_shape), dtype=action_dtype)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=np.float32)
        self.position = 0
        self.size = 0

    def add(self, obs, action, reward, next_obs, terminated):
        i = self.position
        self.obs[i] = obs
        self.actions[i] = action
        self.rewards[i] = reward
        self.next_obs[i] = next_obs
        self.terminated[i] = terminated
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, rng, n_batches, batch_size):
        """``n_batches`` minibatches of ``batch_size``, drawn with replacement across batches."""
        idx = rng.integers(0, self.size, size=(n_batches, batch_size))
        return ReplayBatch(self.obs[idx], self.actions[idx], self.rewards[idx],
                           self.next_obs[idx], self.terminated[idx])

    def state(self):
        n = self.size
        return {"position": self.position, "size": n, "obs": self.obs[:n].copy(),
                "next_obs": self.next_obs[:n].copy(), "actions": self.actions[:n].copy(),
                "rewards": self.rewards[:n].copy(), "terminated": self.terminated[:n].copy()}

    def load_state(self, state):
        n = state["size"]
        for name in ("obs", "next_obs", "actions", "rewards", "terminated"):
            getattr(self, name)[:n] = state[name]
        self.position, self.size = state["position"], n
