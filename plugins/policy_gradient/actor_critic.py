"""One-step actor-critic (the book's chapter 10): learns online from every transition.

    delta = r + gamma V(s') (1 - terminated) - V(s)
    loss = -delta log pi(a|s) - ent_coef * entropy + vf_coef * delta^2   (delta held constant)
"""

import numpy as np

from .policies import PolicyGradientAgent


class ActorCriticAgent(PolicyGradientAgent):
    data = "transitions"
    name = "Actor-critic"

    def train_step(self, t):
        c = self.config
        obs, next_obs = np.asarray(t.obs)[None], np.asarray(t.next_obs)[None]
        target = t.reward + (0.0 if t.terminated else c.gamma * self.values(next_obs)[0])
        delta = target - self.values(obs)[0]
        return self.update(obs, np.asarray(t.action)[None], [delta], [target])
