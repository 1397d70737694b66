"""Tabular Q-learning (the book's chapter 9). Cheap to import: config, presets, hook."""

from dataclasses import dataclass

from advdl.api import AlgorithmSpec, hookimpl, option


@dataclass(frozen=True, kw_only=True)
class QLearningConfig:
    learning_rate: float = option(0.5, "Step size alpha (at the start, see learning_rate_end); 1.0 is the book's "
                                       "deterministic update Q = r + gamma max Q'.", above=0, high=1)
    learning_rate_end: float | None = option(0.0, "The step size falls linearly to this by the end of the run's "
                                                  "budget, averaging out stochastic rewards and transitions "
                                                  "(none: constant).", low=0, high=1)
    gamma: float = option(0.99, "Discount factor in (0, 1].", above=0, high=1)
    exploration_initial_eps: float = option(1.0, "Epsilon at the start.", low=0, high=1)
    exploration_final_eps: float = option(0.05, "Epsilon at the end of the schedule; it never falls below this.",
                                          low=0, high=1)
    exploration_fraction: float = option(0.5, "Fraction of the run's budget (its steps, or its episodes when that "
                                              "limit comes first) over which epsilon falls linearly.", above=0, high=1)
    exploration_decay: float | None = option(None, "If set: epsilon is instead multiplied by this after every "
                                                   "episode (the book: 0.9); none: the budget-scaled schedule.",
                                             low=0, high=1)


PRESETS = {
    "advdl/QWorld-v0": {
        "description": "The book's Q-world: gamma 0.9, deterministic update, epsilon *0.9 per episode.",
        "run": {"steps": 20_000, "eval_interval": 5000, "eval_episodes": 1, "final_eval_episodes": 1,
                "log_interval": 1000, "checkpoint_interval": 0},
        "hyperparameters": {"learning_rate": 1.0, "learning_rate_end": None, "gamma": 0.9,
                            "exploration_final_eps": 0.1, "exploration_decay": 0.9},
    },
    "FrozenLake-v1": {
        # a budget of episodes, not steps: a slippery 8x8 episode runs about 2.5 times as long as a 4x4 one,
        # so 20,000 episodes give each lake the steps it needs (steps: a cap that 20,000 episodes of at most
        # 100 steps stay under) and the small lakes finish sooner
        "description": "FrozenLake, 4x4 or 8x8 (--env-kwarg map_name=8x8), slippery by default (--env-kwarg "
                       "is_slippery=false for the deterministic lake): 20,000 episodes (4x4: about 0.5M steps, "
                       "8x8: 1.2M); goal rate over 1,000 greedy episodes.",
        "run": {"steps": 2_000_000, "episodes": 20_000, "eval_interval": 100_000, "eval_episodes": 100,
                "final_eval_episodes": 1000, "log_interval": 10_000, "checkpoint_interval": 250_000},
    },
}
PRESETS["FrozenLake8x8-v1"] = {  # the 8x8 map under its own id: 200 steps an episode
    **PRESETS["FrozenLake-v1"],
    "description": "FrozenLake8x8-v1 (slippery by default): 20,000 episodes, as FrozenLake-v1's preset; goal rate over "
                   "1,000 greedy episodes.",
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
