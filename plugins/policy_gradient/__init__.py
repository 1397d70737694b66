"""Policy-gradient methods (the book's chapter 10). Cheap to import: configs, presets, hook."""

from dataclasses import dataclass
from typing import Literal

from advdl.api import AlgorithmSpec, Baseline, ConfigError, hookimpl, option

MAX_ENVS = 1024  # environments stepped side by side: Python objects stepped one by one (--vec async: a process each)
MAX_LOG_STD = 20.0  # std from 2e-9 to 5e8; beyond 88, float32's exp overflows (NaN log-probabilities)


SB3_SETTINGS = "advdl_plugins.policy_gradient.baseline:sb3_settings"  # advdl compare: SB3's A2C
SB3_ONE_STEP = "advdl_plugins.policy_gradient.baseline:sb3_one_step_settings"


@dataclass(frozen=True, kw_only=True)
class PolicyConfig:
    hidden_sizes: tuple[int, ...] = option((64, 64), "Hidden tanh layers of the actor and of the critic (separate "
                                                     "networks).", low=1)
    learning_rate: float = option(7e-4, "Learning rate.", above=0)
    learning_rate_end: float | None = option(None, "Decay the learning rate linearly to this by the last step "
                                                   "(none: constant).", low=0)
    optimizer: Literal["rmsprop", "adam"] = option("rmsprop", "rmsprop (rho 0.99, eps 1e-5, as SB3) or adam.")
    gamma: float = option(0.99, "Discount factor in (0, 1].", above=0, high=1)
    ent_coef: float = option(0.0, "Weight of the entropy bonus (it is differentiated, so it really pushes).", low=0)
    vf_coef: float = option(0.5, "Weight of the value loss.", low=0)
    max_grad_norm: float | None = option(0.5, "Clip the gradient to this global norm (none: no clipping).", above=0)
    normalize_advantage: bool = option(False, "Normalise advantages within each update.")
    log_std_init: float = option(0.0, "Initial log standard deviation of the Gaussian policy (continuous actions).",
                                 low=-MAX_LOG_STD, high=MAX_LOG_STD)
    sde: bool = option(False, "Continuous actions: state-dependent exploration (gSDE, Raffin et al. 2021), noise = "
                              "actor features x a random matrix, smooth in time (what solves MountainCarContinuous).")
    sde_sample_freq: int = option(-1, "With sde: draw a new noise matrix every N steps (-1: after every update).")
    normalize_obs: bool = option(False, "Normalise observations by their running mean and std (SB3's VecNormalize); "
                                        "the statistics are saved in checkpoints and in the model.")
    state_encoder: Literal["none", "autoencoder"] = option(
        "none", "autoencoder: the book's frozen state encoder (256-128-32), trained before the agent on states "
                "drawn uniformly from the observation space's bounds; the networks see its 32-d code.")

    def __post_init__(self):
        if self.sde_sample_freq == 0 or self.sde_sample_freq < -1:  # not a range: -1 or a positive count
            raise ConfigError(f"sde_sample_freq must be >= 1 or -1, got {self.sde_sample_freq}")
        if not self.hidden_sizes:
            raise ConfigError("hidden_sizes must name at least one layer")


@dataclass(frozen=True, kw_only=True)
class A2CConfig(PolicyConfig):
    n_envs: int = option(8, "Environments stepped side by side.", low=1, high=MAX_ENVS)
    n_steps: int = option(5, "Steps of every environment per update (the rollout is n_envs x n_steps).", low=1)
    gae_lambda: float = option(1.0, "GAE lambda in [0, 1]; 1.0 gives plain n-step returns.", low=0, high=1)
    normalize_reward: bool = option(False, "Divide rewards by the running std of the discounted return (SB3's "
                                           "VecNormalize); evaluations report the raw returns.")


@dataclass(frozen=True, kw_only=True)
class ReinforceConfig(PolicyConfig):
    baseline: bool = option(False, "Subtract a learned state value from the return (REINFORCE with baseline).")
    learning_rate: float = option(1e-3, "Learning rate.")
    optimizer: Literal["rmsprop", "adam"] = option("adam", "rmsprop (rho 0.99, eps 1e-5) or adam.")
    max_grad_norm: float | None = option(None, "Clip the gradient to this global norm (none: no clipping).")


@dataclass(frozen=True, kw_only=True)
class ReinforceBaselineConfig(ReinforceConfig):
    baseline: bool = option(True, "Subtract a learned state value from the return (REINFORCE with baseline).")


# The book's benchmark: 1,000 training episodes of MountainCarContinuous-v0 (at most 999 steps each),
# scored over 100 deterministic episodes (the env's threshold is 90).
MOUNTAIN_CAR_RUN = {"steps": 1_000_000, "episodes": 1000, "eval_interval": 50_000, "eval_episodes": 10,
                    "final_eval_episodes": 100, "log_interval": 10_000, "checkpoint_interval": 100_000}


MOUNTAIN_CAR_NORMALIZED = {
    "description": "The book's budget of 1,000 episodes, with normalised observations.",
    "run": MOUNTAIN_CAR_RUN,
    "hyperparameters": {"normalize_obs": True},
}


def book_preset(method):
    return {
        "description": f"The book's MountainCarContinuous-v0 benchmark for {method}: 1,000 training episodes, the "
                       "frozen autoencoder state encoder (256-128-32), white Gaussian noise.",
        "env": "MountainCarContinuous-v0", "run": MOUNTAIN_CAR_RUN,
        "hyperparameters": {"state_encoder": "autoencoder"},
    }


PRESETS = {
    "CartPole-v1": {
        "description": "rl-baselines3-zoo's CartPole-v1 settings: 8 envs, 500,000 steps, no entropy bonus.",
        "run": {"steps": 500_000, "eval_interval": 10_000, "eval_episodes": 10, "log_interval": 10_000,
                "checkpoint_interval": 100_000},
    },
    "MountainCarContinuous-v0": {
        "description": "rl-baselines3-zoo's settings (4 envs x 100 steps, gSDE redrawn every 16 steps, normalised "
                       "observations) within the book's budget of 1,000 episodes.",
        "run": MOUNTAIN_CAR_RUN,
        "hyperparameters": {"n_envs": 4, "n_steps": 100, "sde": True, "sde_sample_freq": 16, "normalize_obs": True},
    },
    "Pendulum-v1": {
        "description": "rl-baselines3-zoo's Pendulum-v1 settings: 8 envs x 8 steps, gamma 0.9, GAE 0.9, gSDE "
                       "(log std -2), learning rate 7e-4 decayed linearly to 0, normalised observations and "
                       "rewards, 1,000,000 steps.",
        "run": {"steps": 1_000_000, "eval_interval": 50_000, "eval_episodes": 10, "log_interval": 10_000,
                "checkpoint_interval": 250_000},
        "hyperparameters": {"n_envs": 8, "n_steps": 8, "gamma": 0.9, "gae_lambda": 0.9, "vf_coef": 0.4,
                            "learning_rate_end": 0.0, "sde": True, "log_std_init": -2.0,
                            "normalize_obs": True, "normalize_reward": True},
    },
    "Acrobot-v1": {
        "description": "rl-baselines3-zoo's Acrobot-v1 settings: 16 envs, normalised observations and rewards, "
                       "500,000 steps.",
        "run": {"steps": 500_000, "eval_interval": 25_000, "eval_episodes": 10, "log_interval": 10_000,
                "checkpoint_interval": 100_000},
        "hyperparameters": {"n_envs": 16, "normalize_obs": True, "normalize_reward": True},
    },
    "book": book_preset("A2C"),
}


REINFORCE_PRESETS = {
    "CartPole-v1": {
        "description": "CartPole-v1: 1,000 episodes at most (about 200,000 steps).",
        "run": {"steps": 200_000, "eval_interval": 20_000, "eval_episodes": 10, "log_interval": 10_000},
    },
    "MountainCarContinuous-v0": MOUNTAIN_CAR_NORMALIZED,
    "book": book_preset("REINFORCE"),
}


@dataclass(frozen=True, kw_only=True)
class ActorCriticConfig(PolicyConfig):
    learning_rate: float = option(1e-3, "Learning rate.")
    optimizer: Literal["rmsprop", "adam"] = option("adam", "rmsprop (rho 0.99, eps 1e-5) or adam.")
    max_grad_norm: float | None = option(None, "Clip the gradient to this global norm (none: no clipping).")


ACTOR_CRITIC_PRESETS = {
    "CartPole-v1": {
        "description": "CartPole-v1: 100,000 online updates.",
        "run": {"steps": 100_000, "eval_interval": 10_000, "eval_episodes": 10, "log_interval": 5_000},
    },
    "MountainCarContinuous-v0": MOUNTAIN_CAR_NORMALIZED,
    "book": book_preset("Actor-Critic"),
}


@hookimpl
def advdl_register_algorithms(register):
    register(AlgorithmSpec(
        name="a2c", family="rl",
        summary="Advantage actor-critic over n-step rollouts of vectorised envs (discrete or continuous).",
        config=A2CConfig, factory="advdl_plugins.policy_gradient.a2c:A2CAgent", presets=PRESETS,
        baseline=Baseline("A2C", SB3_SETTINGS),
        paper="https://arxiv.org/abs/1602.01783"))
    register(AlgorithmSpec(
        name="reinforce", family="rl",
        summary="REINFORCE: Monte Carlo policy gradient, one update per complete episode.",
        config=ReinforceConfig, factory="advdl_plugins.policy_gradient.reinforce:ReinforceAgent",
        baseline=Baseline("A2C", SB3_SETTINGS, "SB3 has no REINFORCE; the closest is its A2C (n-step returns and a "
                                          "critic, not whole episodes)"),
        presets=REINFORCE_PRESETS, paper="Williams (1992), Machine Learning 8"))
    register(AlgorithmSpec(
        name="reinforce-baseline", family="rl",
        summary="REINFORCE with a learned state-value baseline.",
        config=ReinforceBaselineConfig, factory="advdl_plugins.policy_gradient.reinforce:ReinforceAgent",
        baseline=Baseline("A2C", SB3_SETTINGS, "SB3 has no REINFORCE with baseline; the closest is its A2C (n-step "
                                          "bootstrapped returns instead of whole episodes)"),
        presets=REINFORCE_PRESETS, paper="Williams (1992), Machine Learning 8"))
    register(AlgorithmSpec(
        name="actor-critic", family="rl",
        summary="One-step actor-critic: learns online after every step from the TD error.",
        config=ActorCriticConfig, factory="advdl_plugins.policy_gradient.actor_critic:ActorCriticAgent",
        baseline=Baseline("A2C", SB3_ONE_STEP, "SB3 has no one-step actor-critic; the closest is its A2C with n_steps=1"),
        presets=ACTOR_CRITIC_PRESETS, paper="Sutton & Barto (2018), Reinforcement Learning, section 13.5"))
