"""advdl A2C against Stable-Baselines3 A2C on CartPole-v1, side by side in one run.

    pip install -e ".[baselines]"      # SB3 and torch==2.13.0 (CPU)
    python benchmarks/a2c_vs_sb3.py [--seeds 0,1,2] [--steps 500000]

Each training runs alone in its own process: advdl's `a2c` CartPole-v1 preset and SB3's A2C with
rl-baselines3-zoo's settings (8 envs, ent_coef 0.0, otherwise SB3's defaults: n_steps 5, RMSprop
7e-4), same seeds and evaluation protocol (every 10,000 steps 10 greedy episodes; final: 20).
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


def run_advdl(seed, steps, workdir):
    out = Path(workdir) / f"advdl-a2c-s{seed}"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, "-m", "advdl", "run", "a2c", "--env", "CartPole-v1", "--seed", str(seed),
           "--steps", str(steps), "--out", str(out), "--no-progress", "--eval-interval", "10000",
           "--eval-episodes", "10", "--final-eval-episodes", "20"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    summary = json.loads((out / "summary.json").read_text())
    return {"seed": seed, "env_steps": summary["env_steps"], "wall_seconds": summary["wall_seconds"],
            "process_seconds": time.perf_counter() - start, "eval_seconds": summary["eval_seconds"],
            "steps_per_second": summary["steps_per_second"], "final_mean": summary["eval"]["mean"],
            "first_eval_at_threshold": summary["first_eval_at_threshold"]}


def run_sb3(seed, steps):
    done = subprocess.run([sys.executable, str(HERE / "sb3_a2c.py"), str(seed), str(steps)],
                          check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2", help="Comma-separated seeds [0,1,2].")
    parser.add_argument("--steps", type=int, default=500_000, help="Env steps per run [500000].")
    parser.add_argument("--out", default=str(HERE / "results"), help="Folder for a2c_vs_sb3.json.")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    try:
        import stable_baselines3  # noqa: F401
    except ImportError:
        sys.exit('Error: this benchmark needs the baselines extra: pip install -e ".[baselines]"')
    results = {"advdl a2c (CartPole-v1 preset)": [], "SB3 A2C (zoo)": []}
    with tempfile.TemporaryDirectory() as workdir:
        for seed in seeds:
            results["advdl a2c (CartPole-v1 preset)"].append(run_advdl(seed, args.steps, workdir))
            results["SB3 A2C (zoo)"].append(run_sb3(seed, args.steps))
            print(f"seed {seed} done", file=sys.stderr)
    rows = [aggregate(name, runs) for name, runs in results.items()]
    ratios = print_report(rows, args.steps, seeds)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "a2c_vs_sb3.json").write_text(json.dumps(
        {"steps": args.steps, "seeds": seeds, "runs": results, "summary": rows, "ratios": ratios}, indent=2))


if __name__ == "__main__":
    main()
