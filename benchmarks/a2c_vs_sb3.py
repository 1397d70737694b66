"""advdl A2C against Stable-Baselines3 A2C, side by side in one run, per environment.

    pip install -e ".[baselines]"      # SB3 and torch==2.13.0 (CPU)
    python benchmarks/a2c_vs_sb3.py [--envs CartPole-v1,Acrobot-v1,Pendulum-v1] [--seeds 0,1,2]

Each training runs alone in its own process: advdl's `a2c` preset for the env and SB3's A2C with
rl-baselines3-zoo's settings for it (benchmarks/sb3_a2c.py), the same seeds, env steps and
evaluation protocol (every EVAL_INTERVAL steps 10 greedy episodes; final: 20 on other seeds).
Results: results/a2c_vs_sb3.json (CartPole-v1) and results/a2c_vs_sb3_<env>.json.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dqn_vs_sb3 import aggregate, print_report

HERE = Path(__file__).resolve().parent
# env steps (the zoo's budget) and evaluation interval per environment
BUDGETS = {"CartPole-v1": (500_000, 10_000), "Acrobot-v1": (500_000, 25_000), "Pendulum-v1": (1_000_000, 50_000)}


def threshold_of(env_id):
    import gymnasium as gym

    return gym.spec(env_id).reward_threshold


def run_advdl(env_id, seed, steps, interval, workdir):
    out = Path(workdir) / f"advdl-a2c-{env_id}-s{seed}"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, "-m", "advdl", "run", "a2c", "--env", env_id, "--seed", str(seed),
           "--steps", str(steps), "--out", str(out), "--no-progress", "--eval-interval", str(interval),
           "--eval-episodes", "10", "--final-eval-episodes", "20"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    summary = json.loads((out / "summary.json").read_text())
    return {"seed": seed, "env_steps": summary["env_steps"], "wall_seconds": summary["wall_seconds"],
            "process_seconds": time.perf_counter() - start, "eval_seconds": summary["eval_seconds"],
            "steps_per_second": summary["steps_per_second"], "final_mean": summary["eval"]["mean"],
            "first_eval_at_threshold": summary["first_eval_at_threshold"], "evaluations": summary["evaluations"]}


def run_sb3(env_id, seed, steps, interval, threshold):
    cmd = [sys.executable, str(HERE / "sb3_a2c.py"), env_id, str(seed), str(steps), str(interval)]
    if threshold is not None:
        cmd.append(str(threshold))
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", default="CartPole-v1", help=f"Comma-separated, from {', '.join(BUDGETS)} [CartPole-v1].")
    parser.add_argument("--seeds", default="0,1,2", help="Comma-separated seeds [0,1,2].")
    parser.add_argument("--steps", type=int, help="Env steps per run [the zoo's budget for the env].")
    parser.add_argument("--out", default=str(HERE / "results"), help="Folder for the results JSON files.")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    envs = args.envs.split(",")
    if unknown := [e for e in envs if e not in BUDGETS]:
        sys.exit(f"Error: no zoo settings for {', '.join(unknown)}; choose from {', '.join(BUDGETS)}")
    try:
        import stable_baselines3  # noqa: F401
    except ImportError:
        sys.exit('Error: this benchmark needs the baselines extra: pip install -e ".[baselines]"')
    for env_id in envs:
        steps, interval = BUDGETS[env_id]
        steps = args.steps or steps
        threshold = threshold_of(env_id)
        ours, theirs = f"advdl a2c ({env_id} preset)", "SB3 A2C (zoo)"
        results = {ours: [], theirs: []}
        with tempfile.TemporaryDirectory() as workdir:
            for seed in seeds:
                results[ours].append(run_advdl(env_id, seed, steps, interval, workdir))
                results[theirs].append(run_sb3(env_id, seed, steps, interval, threshold))
                print(f"{env_id} seed {seed} done", file=sys.stderr)
        rows = [aggregate(name, runs, threshold) for name, runs in results.items()]
        ratios = print_report(rows, steps, seeds, env_id)
        print()
        Path(args.out).mkdir(parents=True, exist_ok=True)
        name = "a2c_vs_sb3.json" if env_id == "CartPole-v1" else f"a2c_vs_sb3_{env_id}.json"
        (Path(args.out) / name).write_text(json.dumps(
            {"env": env_id, "steps": steps, "seeds": seeds, "runs": results, "summary": rows, "ratios": ratios},
            indent=2))


if __name__ == "__main__":
    main()
