"""The four data kinds an agent can declare (``agent.data``), each a collector the Trainer feeds.

A collector sees every env transition (``add``) and, after each step of all environments, gets
``after_step``; either may return a batch, which the Trainer trains the agent on at once.
It keeps its buffer's part of the checkpoint under its ``key``.
"""

from advdl.api.interfaces import Transition
from advdl.rl.replay import ReplayBuffer, check_sample
from advdl.rl.rollout import EpisodeBuffer, RolloutBuffer


def crossed(previous, now, interval):
    """True when a multiple of ``interval`` lies in (previous, now]: steps advance by n_envs."""
    return previous // interval != now // interval


class Collector:
    key = None  # its buffer's part of the checkpoint (None: it has no buffer)
    buffer = None

    @staticmethod
    def n_envs(agent):
        """How many environments the Trainer steps side by side for ``agent``."""
        return 1

    def __init__(self, agent, observation_space, action_space, n_envs):
        self.agent = agent

    def add(self, i, obs, action, reward, next_obs, terminated, truncated):
        """Env ``i``'s transition; a batch to train on now, or None."""
        return None

    def after_step(self, previous_steps, env_steps, episodes, episode_ended, rng):
        """After a step of every environment; a batch to train on now, or None."""
        return None

    def state(self):
        """{key: the buffer's state} for the checkpoint ({} without a buffer)."""
        return {self.key: self.buffer.state()} if self.key else {}

    def load_state(self, state, envs_restored):
        if self.key:
            self.buffer.load_state(state[self.key])


class TransitionCollector(Collector):
    """Online agents: every transition is a batch."""

    def add(self, i, obs, action, reward, next_obs, terminated, truncated):
        return Transition(obs, action, reward, next_obs, terminated, truncated=truncated)


class ReplayCollector(Collector):
    """Off-policy agents: transitions go into a replay buffer, sampled when the schedule says so."""

    key = "replay"

    def __init__(self, agent, observation_space, action_space, n_envs):
        super().__init__(agent, observation_space, action_space, n_envs)
        self.schedule = agent.replay_schedule()
        self.buffer = ReplayBuffer(self.schedule.buffer_size, observation_space.shape, observation_space.dtype,
                                   action_space.shape, action_space.dtype)
        check_sample(self.schedule.gradient_steps, self.schedule.batch_size, self.buffer.per_transition)

    def add(self, i, obs, action, reward, next_obs, terminated, truncated):
        self.buffer.add(obs, action, reward, next_obs, terminated)

    def after_step(self, previous_steps, env_steps, episodes, episode_ended, rng):
        s = self.schedule
        if s.per_episode:
            due = episode_ended and episodes % s.train_freq == 0
        else:
            due = crossed(previous_steps, env_steps, s.train_freq)
        if due and self.buffer.size >= max(s.learning_starts, s.batch_size):
            return self.buffer.sample(rng, s.gradient_steps, s.batch_size)
        return None



class RolloutCollector(Collector):
    """On-policy agents: ``n_steps`` steps of ``n_envs`` environments, trained on when full."""

    key = "rollout"

    @staticmethod
    def n_envs(agent):
        return agent.rollout_schedule().n_envs

    def __init__(self, agent, observation_space, action_space, n_envs):
        super().__init__(agent, observation_space, action_space, n_envs)
        self.buffer = RolloutBuffer(agent.rollout_schedule().n_steps, n_envs, observation_space.shape,
                                    observation_space.dtype, action_space.shape, action_space.dtype)

    def add(self, i, obs, action, reward, next_obs, terminated, truncated):
        self.buffer.add(i, obs, action, reward, next_obs, terminated, truncated)

    def after_step(self, previous_steps, env_steps, episodes, episode_ended, rng):
        return self.buffer.take() if self.buffer.advance() else None



class EpisodeCollector(Collector):
    """Monte Carlo agents: each finished episode is a batch."""

    key = "episode"

    def __init__(self, agent, observation_space, action_space, n_envs):
        super().__init__(agent, observation_space, action_space, n_envs)
        self.buffer = EpisodeBuffer()

    def add(self, i, obs, action, reward, next_obs, terminated, truncated):
        self.buffer.add(obs, action, reward)
        return self.buffer.take(terminated, next_obs) if terminated or truncated else None

    def load_state(self, state, envs_restored):
        if envs_restored:  # else the envs start fresh episodes: the one under way is dropped
            super().load_state(state, envs_restored)


COLLECTORS = {"replay": ReplayCollector, "transitions": TransitionCollector,
              "rollouts": RolloutCollector, "episodes": EpisodeCollector}
