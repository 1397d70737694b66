"""DQN and Double DQN (the book's chapter 9). Cheap to import: configs, presets, hook."""

from dataclasses import dataclass
from typing import Literal

from advdl.api import AlgorithmSpec, Baseline, ConfigError, hookimpl, option

SB3_SETTINGS = "advdl_plugins.dqn.baseline:sb3_settings"  # advdl compare: SB3's DQN


@dataclass(frozen=True, kw_only=True)
class DQNConfig:
    double: bool = option(False, "Double DQN: the online network picks the next action, the target network values it.")
    hidden_sizes: tuple[int, ...] = option((256, 256), "Units of the Q-network's hidden ReLU layers.", low=1)
    learning_rate: float = option(1e-3, "Adam learning rate.", above=0)
    learning_rate_end: float | None = option(None, "Decay the learning rate linearly to this by the last step "
                                                   "(none: constant).", low=0)
    gamma: float = option(0.99, "Discount factor in (0, 1].", above=0, high=1)
    batch_size: int = option(64, "Transitions per gradient step.", low=1)
    buffer_size: int = option(100_000, "Replay buffer capacity (transitions).", low=1)
    learning_starts: int = option(1000, "Env steps collected before the first gradient step.", low=0)
    train_freq: int = option(4, "Train every N env steps (or N episodes, see train_freq_unit).", low=1)
    train_freq_unit: Literal["step", "episode"] = option("step", "Unit of train_freq: 'episode' trains at episode ends.")
    gradient_steps: int = option(1, "Gradient steps per training round (fused into one compiled call).", low=1)
    target_update_interval: int = option(500, "Copy the online network to the target network every N gradient "
                                              "steps.", low=1)
    exploration_initial_eps: float = option(1.0, "Epsilon at the start.", low=0, high=1)
    exploration_final_eps: float = option(0.05, "Epsilon at the end of the schedule.", low=0, high=1)
    exploration_fraction: float = option(0.1, "Fraction of the run's steps over which epsilon falls linearly.",
                                         above=0, high=1)
    exploration_decay_episodes: int = option(
        0, "If > 0: epsilon instead falls geometrically per episode over this many episodes (the book).", low=0)
    loss: Literal["huber", "mse"] = option("huber", "TD loss: huber (smooth L1) or mse (the book).")
    max_grad_norm: float | None = option(10.0, "Clip the gradient to this global norm (none: no clipping).", above=0)

    def __post_init__(self):
        if not self.hidden_sizes:
            raise ConfigError("hidden_sizes must name at least one layer")
        if self.batch_size > self.buffer_size:
            raise ConfigError(f"batch_size ({self.batch_size}) must not exceed buffer_size ({self.buffer_size})")


@dataclass(frozen=True, kw_only=True)
class DoubleDQNConfig(DQNConfig):
    double: bool = option(True, "Double DQN: the online network picks the next action, the target network values it.")


# rl-baselines3-zoo's tuned CartPole-v1 settings for SB3's DQN, in advdl's units
ZOO_CARTPOLE = {
    "learning_rate": 2.3e-3, "batch_size": 64, "buffer_size": 100_000, "learning_starts": 1000,
    "gamma": 0.99, "train_freq": 256, "gradient_steps": 128, "exploration_fraction": 0.16,
    "exploration_final_eps": 0.04, "hidden_sizes": [256, 256],
    # SB3 copies the target every 10 env steps; with train_freq 256 that is once per round
    "target_update_interval": 128,
}

PRESETS = {
    "CartPole-v1": {
        "description": "Solves CartPole-v1 (475) within 50,000 steps: the zoo settings with a shorter exploration "
                       "phase, keeping the weights of the best periodic evaluation.",
        "run": {"steps": 50_000, "eval_interval": 2500, "eval_episodes": 10, "keep_best": True},
        "hyperparameters": {**ZOO_CARTPOLE, "exploration_fraction": 0.1},
    },
    "zoo": {
        "description": "SB3 DQN with rl-baselines3-zoo's CartPole-v1 settings, for side-by-side benchmarks.",
        "env": "CartPole-v1",
        "run": {"steps": 50_000, "eval_interval": 2500, "eval_episodes": 10},
        "hyperparameters": ZOO_CARTPOLE,
    },
    "book": {
        "description": "The book's CartPole-v0 setting: gamma 0.9, 3x256 MLP, Adam 1e-3, MSE, batch 64, one "
                       "gradient step per episode, target copied every 10 updates, epsilon 1.0 -> 0.1 over "
                       "500 episodes; stops when solved (mean >= 195 over 100 episodes).",
        "env": "CartPole-v0",
        "run": {"steps": 400_000, "eval_interval": 20_000, "eval_episodes": 10, "stop_when_solved": True},
        "hyperparameters": {
            "gamma": 0.9, "hidden_sizes": [256, 256, 256], "learning_rate": 1e-3, "loss": "mse",
            "max_grad_norm": None, "batch_size": 64, "buffer_size": 100_000, "learning_starts": 64,
            "train_freq": 1, "train_freq_unit": "episode", "gradient_steps": 1,
            "target_update_interval": 10, "exploration_initial_eps": 1.0,
            "exploration_final_eps": 0.1, "exploration_decay_episodes": 500,
        },
    },
    "Acrobot-v1": {
        "description": "Acrobot-v1 (rl-baselines3-zoo's settings), keeping the best evaluated weights.",
        "run": {"steps": 100_000, "eval_interval": 10_000, "keep_best": True},
        "hyperparameters": {"learning_rate": 6.3e-4, "batch_size": 128, "buffer_size": 50_000,
                            "learning_starts": 0, "gamma": 0.99, "target_update_interval": 250,
                            "train_freq": 4, "gradient_steps": 4, "exploration_fraction": 0.12,
                            "exploration_final_eps": 0.1, "hidden_sizes": [256, 256]},
    },
    "Taxi-v4": {
        "description": "Taxi-v4 through one-hot states (optimum about 8): a longer exploration phase (40% of 100,000 "
                       "steps) finds the drop-offs, a target copied every 250 updates; keeps the best evaluated weights.",
        "run": {"steps": 100_000, "eval_interval": 10_000, "eval_episodes": 20, "keep_best": True},
        "hyperparameters": {"exploration_fraction": 0.4, "target_update_interval": 250, "train_freq": 2},
    },
    "advdl/PixelGrid-v0": {
        "description": "advdl's pixel grid through the CNN torso: gamma 0.95 and a target copied every 250 updates "
                       "carry the goal's reward back fast; keeps the best evaluated weights.",
        "run": {"steps": 80_000, "eval_interval": 10_000, "eval_episodes": 20, "keep_best": True},
        "hyperparameters": {"gamma": 0.95, "target_update_interval": 250, "exploration_fraction": 0.2,
                            "buffer_size": 50_000},
    },
    "MountainCar-v0": {
        "description": "MountainCar-v0 (rl-baselines3-zoo's settings), keeping the best evaluated weights.",
        "run": {"steps": 120_000, "eval_interval": 10_000, "keep_best": True},
        "hyperparameters": {"learning_rate": 4e-3, "batch_size": 128, "buffer_size": 10_000,
                            "learning_starts": 1000, "gamma": 0.98, "target_update_interval": 150,
                            "train_freq": 16, "gradient_steps": 8, "exploration_fraction": 0.2,
                            "exploration_final_eps": 0.07, "hidden_sizes": [256, 256]},
    },
}


@hookimpl
def advdl_register_algorithms(register):
    common = dict(family="rl", factory="advdl_plugins.dqn.agent:DQNAgent", presets=PRESETS)
    register(AlgorithmSpec(
        name="dqn", summary="Deep Q-Network: MLP Q-network, target network, replay, epsilon-greedy.",
        config=DQNConfig, paper="https://arxiv.org/abs/1312.5602",
        baseline=Baseline("DQN", SB3_SETTINGS), **common))
    register(AlgorithmSpec(
        name="ddqn", summary="Double DQN: DQN whose target decouples action choice from valuation.",
        config=DoubleDQNConfig, paper="https://arxiv.org/abs/1509.06461",
        baseline=Baseline("DQN", SB3_SETTINGS, "SB3 has no Double DQN; the closest is its DQN (the target network "
                                          "picks and values the next action)"), **common))
