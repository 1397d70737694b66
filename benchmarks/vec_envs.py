"""A2C's environment steps per second with its environments in one process (--vec sync) and
in one subprocess each (--vec async), side by side in one run.

    python benchmarks/vec_envs.py [--n-envs 2] [--repeats 2]

CartPole-v1 as it is (a step costs microseconds: the subprocesses' pipes cost more than they
save) and CartPole with work added to every step (--step-ms, like a physics simulator: the
subprocesses step at the same time, on as many cores as there are). Training
only: no evaluation during the run. The two modes give the same numbers (same seeds); only the
speed differs. Results: results/vec_envs.json.
"""

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import gymnasium as gym

HERE = Path(__file__).resolve().parent
BUSY_ID = "bench/BusyCartPole-v1"


class BusyCartPole(gym.Wrapper):
    """CartPole-v1 that computes for ``step_ms`` milliseconds per step (busy, not sleeping)."""

    def __init__(self, step_ms=1.0, render_mode=None):
        super().__init__(gym.make("CartPole-v1", render_mode=render_mode).unwrapped)
        self.step_seconds = step_ms / 1000.0

    def step(self, action):
        end = time.perf_counter() + self.step_seconds
        while time.perf_counter() < end:
            pass
        return self.env.step(action)


def run(env_id, vec, n_envs, steps, seed, env_kwargs=()):
    from advdl.loading.manager import get_registry
    from advdl.runs.start import train
    from advdl.settings.resolve import resolve

    registry = get_registry()
    spec = registry.algorithm("a2c")
    run_flags = {"steps": steps, "vec": vec, "eval_interval": 0, "final_eval_episodes": 1, "seed": seed,
                 "checkpoint_interval": 0, "env_kwargs": list(env_kwargs)}
    run_config, algo_config, preset = resolve(spec, env=env_id,
                                              run_flags=run_flags, hyper_flags={"n_envs": n_envs})
    with tempfile.TemporaryDirectory() as out:
        summary = train(spec, run_config, algo_config, Path(out) / "run", registry, preset, progress=False)
    return {"steps_per_second": summary["steps_per_second"], "wall_seconds": summary["wall_seconds"],
            "final_mean": summary["eval"]["mean"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-envs", type=int, default=2, help="Environments (async: subprocesses) [2].")
    parser.add_argument("--step-ms", default="1,5", help="Milliseconds of CPU work added to every busy step; "
                                                         "comma-separated, one busy case each [1,5].")
    parser.add_argument("--repeats", type=int, default=2, help="Runs per mode (the best is kept) [2].")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "vec_envs.json", help="Results file.")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    gym.register(BUSY_ID, entry_point=BusyCartPole, max_episode_steps=500, reward_threshold=475.0)
    costs = [float(ms) for ms in args.step_ms.split(",")]
    cases = [("CartPole-v1", 20_000, ())] + [(BUSY_ID, int(4_000 / ms), (f"step_ms={ms:g}",)) for ms in costs]
    results = []
    for env_id, steps, kwargs in cases:
        row = {"env": env_id, "env_kwargs": list(kwargs), "env_steps": steps, "n_envs": args.n_envs}
        for vec in ("sync", "async"):
            runs = [run(env_id, vec, args.n_envs, steps, seed=0, env_kwargs=kwargs) for _ in range(args.repeats)]
            row[vec] = max(runs, key=lambda r: r["steps_per_second"])
        row["async_over_sync"] = round(row["async"]["steps_per_second"] / row["sync"]["steps_per_second"], 2)
        row["same_result"] = row["async"]["final_mean"] == row["sync"]["final_mean"]
        results.append(row)
        name = env_id + (f" ({kwargs[0]})" if kwargs else "")
        print(f"{name:36s} sync (1 process) {row['sync']['steps_per_second']:8.0f} steps/s   "
              f"async ({args.n_envs} processes) {row['async']['steps_per_second']:8.0f} steps/s   "
              f"x{row['async_over_sync']:.2f}   same result: {row['same_result']}")
    report = {"machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine()},
              "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
