"""A2C (Mnih et al. 2016), the book's chapter 10: an actor and a critic trained together on
n-step rollouts of several environments stepped side by side.

    advantage A_t = GAE(lambda) of the TD errors r_t + gamma V(s_t+1) - V(s_t)  (lambda 1: n-step)
    loss = -mean(A_t log pi(a_t|s_t)) - ent_coef * mean(entropy) + vf_coef * mean((R_t - V(s_t))^2)

The values for the advantages come from a numpy copy of the critic; each update is one
XLA-compiled call. With ``update=book`` (the ``book`` preset) ``A2CAgent(...)`` makes the book's own
A2C instead: whole episodes, batch-1 updates from the last step back (``book_a2c.BookA2CAgent``).
"""

import numpy as np

from advdl.api import RolloutSchedule

from .policies import PolicyGradientAgent, RunningMeanStd


def gae(rewards, values, next_values, terminated, truncated, gamma, lam):
    """Advantages (t, n) by generalised advantage estimation; an episode end cuts the sum."""
    deltas = rewards + gamma * (1.0 - terminated) * next_values - values
    done = np.maximum(terminated, truncated)
    advantages = np.zeros_like(deltas)
    running = np.zeros(deltas.shape[1], dtype=deltas.dtype)
    for t in reversed(range(len(deltas))):
        running = deltas[t] + gamma * lam * (1.0 - done[t]) * running
        advantages[t] = running
    return advantages


class A2CAgent(PolicyGradientAgent):
    data = "rollouts"
    name = "A2C"

    def __new__(cls, config, *args, **kwargs):
        if cls is A2CAgent and getattr(config, "update", "rollout") == "book":
            from .book_a2c import BookA2CAgent  # a subclass: Python then runs its __init__

            cls = BookA2CAgent
        return super().__new__(cls)

    def __init__(self, config, observation_space, action_space, *, seed, total_steps):
        super().__init__(config, observation_space, action_space, seed=seed, total_steps=total_steps)
        self.reward_rms = RunningMeanStd(1) if config.normalize_reward else None
        self.discounted_return = np.zeros(config.n_envs)

    def rollout_schedule(self):
        return RolloutSchedule(self.config.n_envs, self.config.n_steps)

    def train_step(self, batch):
        c = self.config
        t, n = batch.rewards.shape
        rewards = self.scale_rewards(batch) if self.reward_rms is not None else batch.rewards
        values = self.values(batch.obs.reshape(t * n, -1)).reshape(t, n)
        next_values = self.values(batch.next_obs.reshape(t * n, -1)).reshape(t, n)
        advantages = gae(rewards, values, next_values, batch.terminated, batch.truncated, c.gamma, c.gae_lambda)
        returns = advantages + values
        if c.normalize_advantage:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        return self.update(batch.obs.reshape(t * n, -1), batch.actions.reshape(t * n, *batch.actions.shape[2:]),
                           advantages.reshape(-1), returns.reshape(-1))

    def scale_rewards(self, batch):
        """Rewards over the running std of each env's discounted return, updated step by step."""
        scaled = np.zeros_like(batch.rewards)
        for t in range(len(batch.rewards)):
            self.discounted_return = self.discounted_return * self.config.gamma + batch.rewards[t]
            self.reward_rms.update(self.discounted_return[:, None])
            scaled[t] = batch.rewards[t] / np.sqrt(self.reward_rms.var[0] + 1e-8)
            self.discounted_return[np.maximum(batch.terminated[t], batch.truncated[t]) > 0] = 0.0
        return scaled

    def get_state(self):
        return {**super().get_state(), "discounted_return": self.discounted_return.copy(),
                "reward_rms": vars(self.reward_rms).copy() if self.reward_rms is not None else None}

    def set_state(self, state):
        super().set_state(state)
        self.discounted_return = state["discounted_return"].copy()
        if self.reward_rms is not None:
            vars(self.reward_rms).update(state["reward_rms"])
