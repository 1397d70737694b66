"""REINFORCE (Williams 1992), with or without a baseline, the book's chapter 10: after every
complete episode, one gradient step on

    loss = -mean(A_t log pi(a_t|s_t)) - ent_coef * mean(entropy) [+ vf_coef * mean((G_t - V(s_t))^2)]

where G_t is the discounted return from step t to the episode's end and A_t = G_t, or G_t - V(s_t)
with the baseline. Like the book, each step's term is weighted by gamma^t (``discount_weighting``).
"""

import numpy as np

from .policies import PolicyGradientAgent


def returns_to_go(rewards, gamma):
    returns = np.zeros_like(rewards)
    running = 0.0
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * running
        returns[t] = running
    return returns


class ReinforceAgent(PolicyGradientAgent):
    data = "episodes"
    name = "REINFORCE"

    def train_step(self, episode):
        c = self.config
        returns = returns_to_go(episode.rewards, c.gamma)
        advantages = returns - self.values(episode.obs) if c.baseline else returns.copy()
        if c.normalize_advantage:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        if c.discount_weighting:
            advantages = advantages * c.gamma ** np.arange(len(returns))
        return self.update(episode.obs, episode.actions, advantages, returns, pad=True)
