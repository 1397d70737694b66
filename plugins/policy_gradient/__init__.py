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
    optimizer: Literal["rmsprop", "adam"] = option("rmsprop", "rmsprop (rho 0.99, eps 1e-5 outside the root, as SB3) or adam.")
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
    hidden_sizes: tuple[int, ...] = option((64, 64), "Hidden tanh layers of the actor and of the critic (separate "
                                                     "networks); with update=book it may be empty ([]: the heads "
                                                     "sit right on the inputs, as the book's).", low=1)
    n_envs: int = option(8, "Environments stepped side by side.", low=1, high=MAX_ENVS)
    n_steps: int = option(5, "Steps of every environment per update (the rollout is n_envs x n_steps).", low=1)
    gae_lambda: float = option(1.0, "GAE lambda in [0, 1]; 1.0 gives plain n-step returns.", low=0, high=1)
    normalize_reward: bool = option(False, "Divide rewards by the running std of the discounted return (SB3's "
                                           "VecNormalize); evaluations report the raw returns.")
    update: Literal["rollout", "book"] = option(
        "rollout", "rollout: n-step rollouts of n_envs envs, one batched update each (GAE, one optimizer). book: "
                   "the book's A2C (policygradient-car-10.1.1.py; the book preset): one env, after each whole "
                   "episode one batch-1 update per step from the last back to the first, returns bootstrapped "
                   "from V(s_T) at a time limit, the actor (Keras 2 RMSprop) on -delta log N(a') of a freshly "
                   "resampled, clipped action a' (not the one taken), then the critic (its own Adam) on "
                   "vf_coef (R - V)^2; zero-initialised linear heads after hidden_sizes (may be empty), a "
                   "softplus state-dependent std. Unused there: n_envs, n_steps, gae_lambda, optimizer.")

    def __post_init__(self):
        if self.update != "book":
            super().__post_init__()
            return
        refused = {"sde": self.sde, "normalize_reward": self.normalize_reward,
                   "normalize_advantage": self.normalize_advantage,
                   "learning_rate_end": self.learning_rate_end is not None, "log_std_init": self.log_std_init != 0}
        refused = [name for name, on in refused.items() if on]
        if refused:
            raise ConfigError(f"update=book does not take {', '.join(refused)} (the book's A2C has none of them; "
                              f"its std is a softplus head, ln 2 at first)")
        # hidden_sizes may be empty here (the book's heads sit on the encoder's code); sde_sample_freq is unused


@dataclass(frozen=True, kw_only=True)
class ReinforceConfig(PolicyConfig):
    baseline: bool = option(False, "Subtract a learned state value from the return (REINFORCE with baseline).")
    discount_weighting: bool = option(True, "Weight step t's term by gamma^t (the book; Sutton & Barto's episodic "
                                            "REINFORCE); false: every step alike, as most implementations do (on long "
                                            "episodes gamma^t leaves the late steps almost unlearned).")
    learning_rate: float = option(1e-3, "Learning rate.")
    optimizer: Literal["rmsprop", "adam"] = option("adam", "rmsprop (rho 0.99, eps 1e-5 outside the root) or adam.")
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
    "book": {
        **book_preset("A2C"),
        "description": "The book's A2C on MountainCarContinuous-v0 (update=book): 1,000 training episodes of one "
                       "env, each then learnt from backwards in batch-1 steps (returns with gamma 0.95), "
                       "zero-initialised linear heads on the frozen autoencoder state encoder's 32-d code, actor "
                       "RMSprop and critic Adam at 1e-3, no gradient clipping, no entropy bonus.",
        "hyperparameters": {"state_encoder": "autoencoder", "update": "book", "n_envs": 1, "hidden_sizes": (),
                            "learning_rate": 1e-3, "gamma": 0.95, "vf_coef": 1.0, "ent_coef": 0.0,
                            "max_grad_norm": None},
    },
}


REINFORCE_PRESETS = {
    "CartPole-v1": {
        "description": "CartPole-v1: 1,000 episodes at most (about 200,000 steps).",
        "run": {"steps": 200_000, "eval_interval": 20_000, "eval_episodes": 10, "log_interval": 10_000},
    },
    "Acrobot-v1": {
        "description": "Acrobot-v1 (-100 within 400,000 steps): every step's term weighted alike (gamma^t would leave "
                       "a 500-step episode's second half unlearned), advantages normalised per episode, an entropy "
                       "bonus, the learning rate decaying to 0; keeps the best evaluated weights (a greedy policy "
                       "can stall where the stochastic one swings up).",
        "run": {"steps": 400_000, "eval_interval": 20_000, "eval_episodes": 20, "log_interval": 10_000,
                "keep_best": True},
        "hyperparameters": {"learning_rate": 5e-4, "learning_rate_end": 0.0, "normalize_advantage": True,
                            "discount_weighting": False, "ent_coef": 0.01},
    },
    "MountainCarContinuous-v0": MOUNTAIN_CAR_NORMALIZED,
    "book": book_preset("REINFORCE"),
}


@dataclass(frozen=True, kw_only=True)
class ActorCriticConfig(PolicyConfig):
    """Why the entropy bonus and the decaying learning rate by default: learning online, Adam sees long runs
    of near-zero TD errors once the policy is good, so its second moment shrinks; the first failure's large
    TD error (target 1 against a value near 1 / (1 - gamma)) then moves every weight by up to 30 learning
    rates at once (1 / sqrt(1 - beta_2)), the softmax saturates (entropy 5e-10 on CartPole) and its gradient
    vanishes: the policy never recovers. The bonus keeps the softmax off saturation; the decay shrinks
    those steps as the run ends."""

    learning_rate: float = option(1e-3, "Learning rate.")
    learning_rate_end: float | None = option(0.0, "Decay the learning rate linearly to this by the last step "
                                                  "(none: constant).", low=0)
    ent_coef: float = option(0.01, "Weight of the entropy bonus (it is differentiated, so it really pushes).", low=0)
    optimizer: Literal["rmsprop", "adam"] = option("adam", "rmsprop (rho 0.99, eps 1e-5 outside the root) or adam.")
    max_grad_norm: float | None = option(None, "Clip the gradient to this global norm (none: no clipping).")


ACTOR_CRITIC_BOOK = book_preset("Actor-Critic")
ACTOR_CRITIC_BOOK["hyperparameters"] = {**ACTOR_CRITIC_BOOK["hyperparameters"], "ent_coef": 0.0,
                                        "learning_rate_end": None}  # the book: no bonus, a constant rate

ACTOR_CRITIC_PRESETS = {
    "CartPole-v1": {
        "description": "CartPole-v1: 100,000 online updates (the defaults' entropy bonus and decaying learning rate "
                       "keep it from collapsing), keeping the best evaluated weights.",
        "run": {"steps": 100_000, "eval_interval": 10_000, "eval_episodes": 10, "log_interval": 5_000,
                "keep_best": True},
    },
    "MountainCarContinuous-v0": {
        "description": "The book's budget of 1,000 episodes, with normalised observations, keeping the best "
                       "evaluated weights (a policy that found the flag can lose it to the action cost).",
        "run": {**MOUNTAIN_CAR_RUN, "keep_best": True},
        "hyperparameters": {"normalize_obs": True},
    },
    "book": ACTOR_CRITIC_BOOK,
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
