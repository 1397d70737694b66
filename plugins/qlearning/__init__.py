"""Tabular Q-learning (the book's chapter 9). Cheap to import: config, presets, hook."""

from dataclasses import dataclass

from advdl.api import AlgorithmSpec, hookimpl, option


@dataclass(frozen=True, kw_only=True)
class QLearningConfig:
    learning_rate: float = option(1.0, "Step size alpha; 1.0 is the book's deterministic update Q = r + gamma max Q'.",
                                  above=0, high=1)
    gamma: float = option(0.9, "Discount factor in (0, 1].", above=0, high=1)
    exploration_initial_eps: float = option(1.0, "Epsilon of the first episode.", low=0, high=1)
    exploration_final_eps: float = option(0.1, "Epsilon never decays below this.", low=0, high=1)
    exploration_decay: float = option(0.9, "Epsilon is multiplied by this after every episode (the book: 0.9).",
                                      low=0, high=1)


PRESETS = {
    "advdl/QWorld-v0": {
        "description": "The book's Q-world: gamma 0.9, deterministic update, epsilon *0.9 per episode.",
        "run": {"steps": 20_000, "eval_interval": 5000, "eval_episodes": 1, "final_eval_episodes": 1,
                "log_interval": 1000, "checkpoint_interval": 0},
    },
    "FrozenLake-v1": {
        "description": "FrozenLake 4x4 (slippery by default; --env-kwarg is_slippery=false for the "
                       "deterministic lake): goal rate over 1,000 greedy episodes.",
        "run": {"steps": 300_000, "eval_interval": 50_000, "eval_episodes": 200,
                "final_eval_episodes": 1000, "log_interval": 10_000, "checkpoint_interval": 100_000},
        "hyperparameters": {"learning_rate": 0.05, "gamma": 0.99, "exploration_decay": 0.999,
                            "exploration_final_eps": 0.05},
    },
}


@hookimpl
def advdl_register_algorithms(register):
    register(AlgorithmSpec(
        name="qlearning",
        family="rl",
        summary="Tabular Q-learning for discrete observation and action spaces.",
        config=QLearningConfig,
        factory="advdl_plugins.qlearning.agent:QLearningAgent",
        presets=PRESETS,
        paper="Watkins & Dayan (1992), Q-learning, Machine Learning 8",
    ))
