"""Tabular Q-learning: a table Q[state, action] updated from every transition.

    Q[s, a] <- Q[s, a] + alpha * (r + gamma * max_a' Q[s', a'] * (1 - terminated) - Q[s, a])

With alpha = 1 this is the book's deterministic update Q[s, a] = r + gamma * max Q[s']. Epsilon and alpha
fall linearly over the run's budget (its steps, or its episodes when that limit comes first);
``exploration_decay`` brings back the book's per-episode decay of epsilon.
"""

import numpy as np
from gymnasium import spaces

from advdl.api import Agent, CheckpointError, EnvSpaceError, ExportPart, argmax, check_fits


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
        self.learning_rate = config.learning_rate

    @classmethod
    def check_spaces(cls, observation_space, action_space):
        if not isinstance(observation_space, spaces.Discrete):
            raise EnvSpaceError(f"Q-learning needs a discrete observation space, got {observation_space}")
        if not isinstance(action_space, spaces.Discrete):
            raise EnvSpaceError(f"Q-learning needs a discrete action space, got {action_space}")

    def act(self, obs, explore):
        q = self.q[obs]
        if not explore:
            return q.argmax(axis=1)
        # the action of the largest of uniform draws among the eligible ones: any action with probability
        # epsilon, else the greedy ones, ties broken at random (argmax's first index would walk Left wherever
        # nothing is learned yet, and FrozenLake 8x8's goal would never be found); one draw keeps it fast
        u = self.rng.random((len(q), q.shape[1] + 1))
        eligible = (q == q.max(axis=1, keepdims=True)) | (u[:, :1] < self.epsilon)
        return (u[:, 1:] * eligible).argmax(axis=1)

    def train_step(self, t):
        cfg = self.config
        target = t.reward + (0.0 if t.terminated else cfg.gamma * self.q[t.next_obs].max())
        td_error = target - self.q[t.obs, t.action]
        self.q[t.obs, t.action] += self.learning_rate * td_error
        return {"td_error": abs(td_error), "epsilon": self.epsilon}

    def on_step(self, env_steps, episodes):
        cfg = self.config
        done = env_steps / self.total_steps  # of the run's budget: steps, or episodes if that limit comes first
        if self.total_episodes:
            done = max(done, episodes / self.total_episodes)
        if cfg.learning_rate_end is not None:
            self.learning_rate = cfg.learning_rate + min(1.0, done) * (cfg.learning_rate_end - cfg.learning_rate)
        start, final = cfg.exploration_initial_eps, cfg.exploration_final_eps
        if cfg.exploration_decay is not None:  # the book's per-episode decay
            self.epsilon = max(final, start * cfg.exploration_decay ** episodes)
        else:
            self.epsilon = start + min(1.0, done / cfg.exploration_fraction) * (final - start)

    def get_state(self):
        return {"q": self.q.copy(), "rng": self.rng.bit_generator.state, "epsilon": self.epsilon,
                "learning_rate": self.learning_rate}

    def set_state(self, state):
        if np.shape(state["q"]) != self.q.shape:  # another environment's checkpoint
            raise CheckpointError(f"the checkpoint's Q-table has shape {np.shape(state['q'])}, this run's "
                                  f"{self.q.shape}: it is another environment's")
        self.q = state["q"].copy()
        self.rng.bit_generator.state = state["rng"]
        self.epsilon = state["epsilon"]
        self.learning_rate = state.get("learning_rate", self.config.learning_rate)  # older checkpoints: constant

    def export_parts(self, observations):
        """The greedy policy as a lookup: the state's one-hot row of a table of one-hot greedy actions, then
        argmax (exact: the table's float64 values never meet float32)."""
        import keras

        greedy = np.eye(self.q.shape[1], dtype=np.float32)[self.q.argmax(axis=1)]
        obs = keras.Input((), dtype="int64", name="obs")
        rows = keras.ops.one_hot(obs - int(self.observation_space.start), len(greedy)) @ greedy
        model = keras.Model(obs, argmax(keras, rows), name="policy")
        return {"policy": ExportPart(model, (np.asarray(observations, np.int64),))}

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
