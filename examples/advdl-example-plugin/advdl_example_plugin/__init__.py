"""An example advdl plugin: tabular Expected SARSA.

This module is what the ``advdl`` entry point names, so ``advdl list`` imports it: keep it cheap
(no numpy, no TensorFlow). It holds only the config, the presets and the registration hook; the
agent lives in ``advdl_example_plugin.agent`` and is imported only when a run starts.
"""

from dataclasses import dataclass

from advdl.api import AlgorithmSpec, hookimpl, option


# Bounds go on the option (low/high inclusive, above/below exclusive): advdl checks them when it reads the
# values and names them in its errors; a __post_init__ is for rules that tie fields together.
@dataclass(frozen=True, kw_only=True)
class SarsaConfig:
    learning_rate: float = option(0.5, "Step size alpha in (0, 1].", above=0, high=1)
    gamma: float = option(0.9, "Discount factor in (0, 1].", above=0, high=1)
    exploration_initial_eps: float = option(1.0, "Epsilon of the first episode.", low=0, high=1)
    exploration_final_eps: float = option(0.05, "Epsilon never decays below this.", low=0, high=1)
    exploration_decay: float = option(0.95, "Epsilon is multiplied by this after every episode.", low=0, high=1)


# A preset named after an environment id is applied automatically with --env that id.
PRESETS = {
    "advdl/QWorld-v0": {
        "description": "The book's 6-state Q-world; learns the 2-step path to the goal in about a second.",
        "run": {"steps": 2000, "eval_interval": 500, "eval_episodes": 1, "final_eval_episodes": 1,
                "log_interval": 100, "checkpoint_interval": 0},
        "hyperparameters": {"learning_rate": 0.5, "exploration_decay": 0.9, "exploration_final_eps": 0.1},
    },
}


@hookimpl
def advdl_register_algorithms(register):
    register(AlgorithmSpec(
        name="sarsa",
        family="rl",
        summary="Tabular Expected SARSA for discrete observation and action spaces (example plugin).",
        config=SarsaConfig,
        factory="advdl_example_plugin.agent:ExpectedSarsaAgent",
        presets=PRESETS,
        paper="van Seijen et al. (2009), A theoretical and empirical analysis of Expected Sarsa, ADPRL",
    ))
