"""Tabular Expected SARSA: like Q-learning, but the target averages over the behaviour policy.

    Q[s, a] <- Q[s, a] + alpha * (r + gamma * sum_a' pi(a'|s') Q[s', a'] - Q[s, a])

where pi is the epsilon-greedy policy the agent explores with (and the sum is 0 when the
episode terminated in s'). The Trainer owns the loop: it calls ``act``, hands every
transition to ``train_step`` (``data = "transitions"``) and calls ``on_step`` after each step.
"""

import numpy as np
from gymnasium import spaces

from advdl.api import Agent, CheckpointError, EnvSpaceError


class ExpectedSarsaAgent(Agent):
    data = "transitions"
    metric_names = ("td_error", "epsilon")  # the keys train_step returns, as metrics.csv columns
    model_file = "model.npz"

    def __init__(self, config, observation_space, action_space, *, seed, total_steps):
        super().__init__(config, observation_space, action_space, seed=seed, total_steps=total_steps)
        self.q = np.zeros((observation_space.n, action_space.n))
        self.rng = np.random.default_rng(seed)
        self.epsilon = config.exploration_initial_eps

    @classmethod
    def check_spaces(cls, observation_space, action_space):
        for what, space in (("observation", observation_space), ("action", action_space)):
            if not isinstance(space, spaces.Discrete):
                raise EnvSpaceError(f"Expected SARSA needs a discrete {what} space, got {space}")

    def act(self, obs, explore):
        greedy = self.q[obs].argmax(axis=1)
        if not explore:
            return greedy
        random_actions = self.rng.integers(0, self.action_space.n, size=len(greedy))
        return np.where(self.rng.random(len(greedy)) < self.epsilon, random_actions, greedy)

    def policy(self, state):
        """pi(.|state) of the epsilon-greedy policy ``act`` follows (ties go to the first action)."""
        n = self.action_space.n
        probs = np.full(n, self.epsilon / n)
        probs[self.q[state].argmax()] += 1.0 - self.epsilon
        return probs

    def train_step(self, t):
        cfg = self.config
        expected = 0.0 if t.terminated else float(self.policy(t.next_obs) @ self.q[t.next_obs])
        td_error = t.reward + cfg.gamma * expected - self.q[t.obs, t.action]
        self.q[t.obs, t.action] += cfg.learning_rate * td_error
        return {"td_error": abs(td_error), "epsilon": self.epsilon}

    def on_step(self, env_steps, episodes):
        cfg = self.config
        self.epsilon = max(cfg.exploration_final_eps, cfg.exploration_initial_eps * cfg.exploration_decay ** episodes)

    # -- checkpoints (everything needed to continue exactly) and the final model ----------------
    def get_state(self):
        return {"q": self.q.copy(), "rng": self.rng.bit_generator.state, "epsilon": self.epsilon}

    def set_state(self, state):
        self.q = np.array(state["q"], dtype=np.float64)
        self.rng.bit_generator.state = state["rng"]
        self.epsilon = state["epsilon"]

    def save_model(self, path):
        np.savez(path, q_table=self.q)

    def load_model(self, path):
        try:
            with np.load(path) as data:
                q = data["q_table"]
        except Exception as exc:  # noqa: BLE001 -- whatever np.load raises, the file is unusable
            raise CheckpointError(f"cannot read the Q-table {path}: missing, corrupt or not written by "
                                  f"save_model ({type(exc).__name__})") from None
        if q.shape != self.q.shape:
            raise CheckpointError(f"the Q-table {path} has shape {q.shape}, expected {self.q.shape}")
        self.q = q.astype(np.float64)
