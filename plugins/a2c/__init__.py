"""A2C, advantage actor-critic (the book's chapter 10). Cheap to import: config, presets, hook."""

from dataclasses import dataclass
from typing import Literal

from advdl import AlgorithmSpec, ConfigError, hookimpl, option


@dataclass(frozen=True, kw_only=True)
class A2CConfig:
    n_envs: int = option(8, "Environments stepped side by side.")
    n_steps: int = option(5, "Steps of every environment per update (the rollout is n_envs x n_steps).")
    hidden_sizes: tuple[int, ...] = option((64, 64), "Hidden tanh layers of the actor and of the critic (separate networks).")
    learning_rate: float = option(7e-4, "Learning rate.")
    optimizer: Literal["rmsprop", "adam"] = option("rmsprop", "rmsprop (rho 0.99, eps 1e-5, as SB3) or adam.")
    gamma: float = option(0.99, "Discount factor in (0, 1].")
    gae_lambda: float = option(1.0, "GAE lambda in [0, 1]; 1.0 gives plain n-step returns.")
    ent_coef: float = option(0.0, "Weight of the entropy bonus (it is differentiated, so it really pushes).")
    vf_coef: float = option(0.5, "Weight of the value loss.")
    max_grad_norm: float | None = option(0.5, "Clip the gradient to this global norm (none: no clipping).")
    normalize_advantage: bool = option(False, "Normalise advantages within each rollout.")
    log_std_init: float = option(0.0, "Initial log standard deviation of the Gaussian policy (continuous actions).")

    def __post_init__(self):
        for name in ("n_envs", "n_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.learning_rate <= 0:
            raise ConfigError(f"learning_rate must be > 0, got {self.learning_rate}")
        if not 0 < self.gamma <= 1:
            raise ConfigError(f"gamma must be in (0, 1], got {self.gamma}")
        if not 0 <= self.gae_lambda <= 1:
            raise ConfigError(f"gae_lambda must be in [0, 1], got {self.gae_lambda}")
        if self.ent_coef < 0 or self.vf_coef < 0:
            raise ConfigError("ent_coef and vf_coef must be >= 0")
        if self.max_grad_norm is not None and self.max_grad_norm <= 0:
            raise ConfigError(f"max_grad_norm must be > 0 or none, got {self.max_grad_norm}")
        if not self.hidden_sizes or min(self.hidden_sizes) <= 0:
            raise ConfigError(f"hidden_sizes must be positive layer sizes, got {self.hidden_sizes}")


PRESETS = {
    "CartPole-v1": {
        "description": "rl-baselines3-zoo's CartPole-v1 settings: 8 envs, 500,000 steps, no entropy bonus.",
        "run": {"steps": 500_000, "eval_interval": 10_000, "eval_episodes": 10, "log_interval": 10_000,
                "checkpoint_interval": 100_000},
    },
}


@hookimpl
def advdl_register_algorithms(register):
    register(AlgorithmSpec(
        name="a2c", family="rl",
        summary="Advantage actor-critic over n-step rollouts of vectorised envs (discrete or continuous).",
        config=A2CConfig, factory="advdl_plugins.a2c.agent:A2CAgent", presets=PRESETS,
        paper="https://arxiv.org/abs/1602.01783"))
