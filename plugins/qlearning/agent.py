"""Tabular Q-learning: a table Q[state, action] updated from every transition.

    Q[s, a] <- Q[s, a] + alpha * (r + gamma * max_a' Q[s', a'] * (1 - terminated) - Q[s, a])

With alpha = 1 this is the book's deterministic update Q[s, a] = r + gamma * max Q[s'].
"""

import numpy as np
from gymnasium import spaces

from advdl.api import Agent, CheckpointError, EnvSpaceError, check_fits


class QLearningAgent(Agent):
    data = "transitions"
    metric_names = ("td_error", "epsilon")
    model_file = "model.npz"

    def __init__(self, config, observation_space, action_space, *, seed, total_steps):
        super().__init__(config, observation_space, action_space, seed=seed, total_steps=total_steps)
        check_fits(2 * 8 * int(observation_space.n) * int(action_space.n),  # the table and a checkpoint's copy
                   f"a Q-table of {observation_space.n:,} states x {action_space.n:,} actions")
        self.q = np.zeros((observation_space.n, action_space.n), dtype=np.float64)
        self.rng = np.random.default_rng(seed)
        self.epsilon = config.exploration_initial_eps

    @classmethod
    def check_spaces(cls, observation_space, action_space):
        if not isinstance(observation_space, spaces.Discrete):
            raise EnvSpaceError(f"Q-learning needs a discrete observation space, got {observation_space}")
        if not isinstance(action_space, spaces.Discrete):
            raise EnvSpaceError(f"Q-learning needs a discrete action space, got {action_space}")

    def act(self, obs, explore):
        greedy = self.q[obs].argmax(axis=1)
        if not explore:
            return greedy
        explore_mask = self.rng.random(len(greedy)) < self.epsilon
        random_actions = self.rng.integers(0, self.action_space.n, size=len(greedy))
        return np.where(explore_mask, random_actions, greedy)

    def train_step(self, t):
        cfg = self.config
        target = t.reward + (0.0 if t.terminated else cfg.gamma * self.q[t.next_obs].max())
        td_error = target - self.q[t.obs, t.action]
        self.q[t.obs, t.action] += cfg.learning_rate * td_error
        return {"td_error": abs(td_error), "epsilon": self.epsilon}

    def on_step(self, env_steps, episodes):
        cfg = self.config
        self.epsilon = max(cfg.exploration_final_eps, cfg.exploration_initial_eps * cfg.exploration_decay ** episodes)

    def get_state(self):
        return {"q": self.q.copy(), "rng": self.rng.bit_generator.state, "epsilon": self.epsilon}

    def set_state(self, state):
        if np.shape(state["q"]) != self.q.shape:  # another environment's checkpoint
            raise CheckpointError(f"the checkpoint's Q-table has shape {np.shape(state['q'])}, this run's "
                                  f"{self.q.shape}: it is another environment's")
        self.q = state["q"].copy()
        self.rng.bit_generator.state = state["rng"]
        self.epsilon = state["epsilon"]

    def save_model(self, path):
        np.savez(path, q_table=self.q)
        # the table itself, readable: one row per state, one column per action
        header = ",".join(f"action_{a}" for a in range(self.q.shape[1]))
        np.savetxt(path.with_name("q_table.csv"), self.q, delimiter=",", header=header, comments="", fmt="%.6g")

    def load_model(self, path):
        try:
            with np.load(path, allow_pickle=False) as data:
                q = data["q_table"]
        except Exception as exc:
            raise CheckpointError(f"cannot read Q-table {path}: {type(exc).__name__}") from None
        if q.shape != self.q.shape:
            raise CheckpointError(f"Q-table {path} has shape {q.shape}, expected {self.q.shape}")
        self.q = q
