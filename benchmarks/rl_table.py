"""Every RL algorithm on the standard environments, as a user runs them: the defaults or the env's
preset (picked by its id), 3 seeds, the final mean against the env's threshold, and SB3's
counterpart beside it where one exists (``advdl compare``, the same settings and budget).

    python benchmarks/rl_table.py                          # every cell (hours on 2 cores)
    python benchmarks/rl_table.py --algorithms qlearning   # a piece: results merge into the JSON
    python benchmarks/rl_table.py --envs Taxi-v4,FrozenLake8x8-v1 --seeds 0 --sb3
    python benchmarks/rl_table.py --skip-done              # only the cells without a result yet
    python benchmarks/rl_table.py --markdown               # the README table from the results so far

A cell the spaces rule out says so (the JSON keeps the agent's own check_spaces sentence), as does
a cell not yet run. Results: benchmarks/results/rl_table.json, one entry per (algorithm, env, seed).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "rl_table.json"
ALGORITHMS = ("qlearning", "dqn", "ddqn", "reinforce", "reinforce-baseline", "actor-critic", "a2c")
ENVS = {  # the table's name -> (env id, env kwargs)
    "CartPole-v1": ("CartPole-v1", {}),
    "Acrobot-v1": ("Acrobot-v1", {}),
    "MountainCar-v0": ("MountainCar-v0", {}),
    "Pendulum-v1": ("Pendulum-v1", {}),
    "MountainCarContinuous-v0": ("MountainCarContinuous-v0", {}),
    "FrozenLake-4x4": ("FrozenLake-v1", {}),
    "FrozenLake8x8-v1": ("FrozenLake8x8-v1", {}),  # 200 steps an episode (FrozenLake-v1's 8x8 map: 100)
    "Taxi-v4": ("Taxi-v4", {}),
    "CliffWalking-v1": ("CliffWalking-v1", {}),
}
COMPARE_TIMEOUT = 1200  # seconds: an SB3 policy that never ends a CliffWalking episode evaluates for hours
THRESHOLDS = {"CliffWalking-v1": -13.0}  # Gymnasium names none: the optimal path's return


def threshold_of(env):
    import gymnasium as gym

    return THRESHOLDS.get(env, gym.spec(ENVS[env][0]).reward_threshold)


def refusal(algorithm, env_id, kwargs):
    """The agent's own sentence when the env's spaces rule it out, else None."""
    import gymnasium as gym

    from advdl.api import EnvSpaceError
    from advdl.loading.manager import get_registry
    from advdl.rl.environments import for_agent

    agent_class = get_registry().algorithm(algorithm).load_class()
    env = for_agent(gym.make(env_id, **kwargs), agent_class)
    try:
        agent_class.check_spaces(env.observation_space, env.action_space)
    except EnvSpaceError as exc:
        return str(exc)
    finally:
        env.close()
    return None


def env_flags(env_id, kwargs):
    return ["--env", env_id, *(f for k, v in kwargs.items() for f in ("--env-kwarg", f"{k}={v}"))]


def advdl_result(summary):
    return {"final_mean": round(summary["eval"]["mean"], 2), "preset": summary["preset"],
            "env_steps": summary["env_steps"], "wall_seconds": summary["wall_seconds"],
            "reward_threshold": summary["reward_threshold"]}


def last_error(done):
    return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1][:300]}


def run_advdl(algorithm, env_id, kwargs, seed, workdir):
    out = Path(workdir) / f"{algorithm}-{env_id.replace('/', '_')}-{seed}"
    cmd = [sys.executable, "-m", "advdl", "run", algorithm, *env_flags(env_id, kwargs), "--seed", str(seed),
           "--out", str(out), "--no-progress"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    if done.returncode:
        return last_error(done)
    return advdl_result(json.loads((out / "summary.json").read_text()))


def run_compare(algorithm, env_id, kwargs, seed, workdir):
    """advdl's run and SB3's counterpart from one ``advdl compare`` (one seed, the same settings):
    (advdl's result, SB3's result); SB3's is None where the algorithm declares no counterpart."""
    from advdl.loading.manager import get_registry

    if get_registry().algorithm(algorithm).baseline is None:
        return run_advdl(algorithm, env_id, kwargs, seed, workdir), None
    out = Path(workdir) / f"compare-{algorithm}-{env_id.replace('/', '_')}-{seed}"
    cmd = [sys.executable, "-m", "advdl", "compare", algorithm, *env_flags(env_id, kwargs), "--seeds", str(seed),
           "--out", str(out)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
                              timeout=COMPARE_TIMEOUT)
    except subprocess.TimeoutExpired:
        done = subprocess.CompletedProcess(cmd, 1, "", f"stopped at this table's {COMPARE_TIMEOUT} s limit")
    ours = out / "advdl" / f"seed-{seed}" / "summary.json"
    mine = advdl_result(json.loads(ours.read_text())) if ours.is_file() else last_error(done)
    if done.returncode:
        return mine, last_error(done)
    result = json.loads((out / "compare.json").read_text())
    sb3 = next(row for name, row in result["rows"].items() if name.startswith("SB3"))
    return mine, {"final_mean": round(sb3["final_mean"]["mean"], 2), "class": result["sb3"]}


def load():
    return json.loads(RESULTS.read_text())["cells"] if RESULTS.exists() else []


def save(cells):
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"seeds_per_cell": 3, "cells": cells}, indent=1) + "\n")


def markdown(cells):
    """One row per env, one column per algorithm: mean of the seeds' final means (seeds at the threshold)."""
    lines = ["| env (threshold) | " + " | ".join(f"`{a}`" for a in ALGORITHMS) + " |",
             "|---|" + "---|" * len(ALGORITHMS)]
    for env in ENVS:
        mine = [c for c in cells if c["env"] == env]
        threshold = threshold_of(env)
        row = [f"{env} ({threshold:g})" if threshold is not None else env]
        for algorithm in ALGORITHMS:
            here = [c for c in mine if c["algorithm"] == algorithm]
            if any("refused" in c for c in here):
                row.append("n/a (spaces)")
            elif not here:
                row.append("not yet run")
            else:
                row.append(cell_text(here, threshold))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def cell_text(here, threshold):
    runs = [c for c in here if "final_mean" in c]
    failed = [c for c in here if "error" in c]
    if not runs:
        return f"failed: {failed[0]['error'][:60]}" if failed else "not yet run"
    mean = sum(c["final_mean"] for c in runs) / len(runs)
    solved = sum(threshold is not None and c["final_mean"] >= threshold for c in runs)
    text = number(mean)
    if threshold is not None:
        text += f" ({solved}/{len(runs)})"
    paired = [c for c in runs if isinstance(c.get("sb3"), dict) and "final_mean" in c["sb3"]]
    if paired:  # SB3 beside advdl on the same seeds (SB3's columns may cover fewer seeds than advdl's)
        seeds = ",".join(str(c["seed"]) for c in paired)
        ours, theirs = (sum(values) / len(values) for values in
                        ([c["final_mean"] for c in paired], [c["sb3"]["final_mean"] for c in paired]))
        text += f"; seed {seeds}: {number(ours)} vs SB3 {number(theirs)}"
    return text


def number(value):
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algorithms", default=",".join(ALGORITHMS), help="Comma-separated algorithms [all].")
    parser.add_argument("--envs", default=",".join(ENVS), help=f"Comma-separated, of: {', '.join(ENVS)} [all].")
    parser.add_argument("--seeds", default="0,1,2", help="Comma-separated seeds [0,1,2].")
    parser.add_argument("--sb3", action="store_true", help="Run each cell through advdl compare: advdl's run and SB3's "
                        "counterpart side by side.")
    parser.add_argument("--sb3-only", action="store_true",
                        help="Only add SB3's counterpart to cells already run (keeps their advdl results; compare trains "
                             "advdl's side again).")
    parser.add_argument("--skip-done", action="store_true",
                        help="Skip cells that already have a result (a run or a refusal); rerun errored ones.")
    parser.add_argument("--markdown", action="store_true", help="Only print the README table from the results.")
    args = parser.parse_args()
    cells = load()
    if not args.markdown:
        with tempfile.TemporaryDirectory() as workdir:
            for algorithm in args.algorithms.split(","):
                for env in args.envs.split(","):
                    env_id, kwargs = ENVS[env]
                    reason = refusal(algorithm, env_id, kwargs)
                    if args.skip_done and reason and any(
                            (c["algorithm"], c["env"]) == (algorithm, env) and "refused" in c for c in cells):
                        continue
                    for seed in [int(s) for s in args.seeds.split(",")]:
                        cell = {"algorithm": algorithm, "env": env, "seed": seed}
                        if args.skip_done and any((c["algorithm"], c["env"], c["seed"]) == (algorithm, env, seed)
                                                  and ("final_mean" in c or "refused" in c) for c in cells):
                            continue
                        if args.sb3_only:
                            old = next((c for c in cells if (c["algorithm"], c["env"], c["seed"]) == (algorithm, env, seed)
                                        and "final_mean" in c), None)
                            if reason or old is None:
                                continue
                            cell = old | {"sb3": run_compare(algorithm, env_id, kwargs, seed, workdir)[1]}
                        elif reason:
                            cell["refused"] = reason
                        elif args.sb3:
                            mine, sb3 = run_compare(algorithm, env_id, kwargs, seed, workdir)
                            cell |= mine | {"sb3": sb3}
                        else:
                            cell |= run_advdl(algorithm, env_id, kwargs, seed, workdir)
                        cells = [c for c in cells if (c["algorithm"], c["env"], c["seed"]) != (algorithm, env, seed)]
                        cells.append(cell)
                        save(cells)
                        print(json.dumps(cell), file=sys.stderr, flush=True)
                        if reason:
                            break
    print(markdown(cells))


if __name__ == "__main__":
    main()
