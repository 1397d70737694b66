"""The run settings of env runs (the ``rl`` family)."""

import typing
from dataclasses import dataclass

from advdl.api.options import option
from advdl.settings.values import MAX_SEED


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Settings of a run that every algorithm shares."""

    env: str = option("", "Gymnasium environment id, e.g. CartPole-v1.")
    env_kwargs: tuple[str, ...] = option((), "Keyword arguments for gymnasium.make, as KEY=VALUE pairs.")
    steps: int = option(100_000, "Environment steps to train for.", low=1)
    episodes: int = option(0, "Also stop after this many training episodes (0: no episode limit).", low=0)
    seed: int = option(0, "Seed for the network, the environment and exploration.", low=0, high=MAX_SEED)
    eval_interval: int = option(10_000, "Evaluate deterministically every N env steps (0: never).", low=0)
    eval_episodes: int = option(10, "Episodes per periodic evaluation.", low=1)
    final_eval_episodes: int = option(20, "Episodes of the final deterministic evaluation.", low=1)
    checkpoint_interval: int = option(25_000, "Write a checkpoint every N env steps (0: only at the end).", low=0)
    log_interval: int = option(1_000, "Write a metrics.csv row and TensorBoard scalars every N env steps.", low=1)
    keep_best: bool = option(False, "End with the weights of the best periodic evaluation (ties: the latest); "
                                    "the final evaluation uses other episodes.")
    stop_when_solved: bool = option(False, "Stop once the mean return of 100 training episodes reaches the env's threshold.")
    vec: typing.Literal["sync", "async"] = option(
        "sync", "How the environments step: sync (in this process, one after another) or async (each in its own "
                "subprocess, stepping at the same time; for environments slow to step).")
    on_nan: typing.Literal["stop", "continue"] = option(
        "stop", "When a training metric (a loss) becomes NaN or infinite: stop, keeping the last good checkpoint, "
                "or continue.")
    deterministic: bool = option(False, "Strict determinism: besides TensorFlow's deterministic ops (always on), "
                                        "oneDNN's custom CPU kernels off and one thread for TensorFlow's ops; slower.")

    @classmethod
    def missing_target(cls, spec):
        envs = [p.get("env") or name for name, p in spec.presets.items() if "-v" in (p.get("env") or name)]
        return f"no environment given: use --env ENV_ID (for example --env {envs[0] if envs else 'CartPole-v1'})"
