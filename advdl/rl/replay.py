"""A preallocated numpy replay buffer (a ring), sampled as stacked minibatches."""

import numpy as np

from advdl.api.interfaces import ReplayBatch
from advdl.api.memory import array_bytes, check_fits, format_bytes

BUFFER_COPIES = 2  # the buffer, and the copy of its filled part a checkpoint writes
# a training round's sample lives on as the agent's float32 copies and the tensors fed to its graph
SAMPLE_COPIES = 3


def transition_bytes(obs_shape, obs_dtype, action_shape=(), action_dtype=np.int64):
    """Bytes of one stored transition: the observation and the next one, the action, the reward and the
    termination flag (float32 each)."""
    return 2 * array_bytes(obs_shape, obs_dtype) + array_bytes(action_shape, action_dtype) + 8


def check_buffer(capacity, per_transition):
    check_fits(BUFFER_COPIES * capacity * per_transition, f"a replay buffer of buffer_size {capacity:,} transitions "
                                          f"({format_bytes(per_transition)} each)", "; lower buffer_size")


def check_sample(n_batches, batch_size, per_transition):
    """A training round's ``n_batches`` x ``batch_size`` indices (int64) and sampled transitions."""
    check_fits(n_batches * batch_size * (8 + SAMPLE_COPIES * per_transition),
               f"a training round of gradient_steps x batch_size = {n_batches:,} x {batch_size:,} sampled "
               f"transitions", "; lower gradient_steps or batch_size")


class ReplayBuffer:
    def __init__(self, capacity, obs_shape, obs_dtype, action_shape=(), action_dtype=np.int64):
        self.capacity = capacity
        self.per_transition = transition_bytes(obs_shape, obs_dtype, action_shape, action_dtype)
        check_buffer(capacity, self.per_transition)  # before np.zeros: the kernel grants it lazily, then kills
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
        n, position = state["size"], state["position"]
        if not (isinstance(n, (int, np.integer)) and isinstance(position, (int, np.integer))
                and 0 <= n <= self.capacity and 0 <= position < self.capacity):
            raise ValueError(f"replay size {n!r} / position {position!r} do not fit a buffer of {self.capacity}")
        for name in ("obs", "next_obs", "actions", "rewards", "terminated"):
            expected = (n, *getattr(self, name).shape[1:])
            if np.shape(state[name]) != expected:
                raise ValueError(f"replay {name} has shape {np.shape(state[name])}, expected {expected}")
            getattr(self, name)[:n] = state[name]
        self.position, self.size = int(position), int(n)
