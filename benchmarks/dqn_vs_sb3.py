"""advdl DQN against Stable-Baselines3 DQN on CartPole-v1, side by side in one run.

    pip install -e ".[baselines]"      # SB3 and torch==2.13.0 (CPU)
    python benchmarks/dqn_vs_sb3.py [--seeds 0,1,2] [--steps 50000] [--out benchmarks/results]

Every training runs in its own process, one at a time (never two at once on this machine):
advdl's default CartPole-v1 preset, advdl's `zoo` preset (SB3's exact configuration) and SB3
with rl-baselines3-zoo's tuned settings, on the same seeds and evaluation protocol (every 2,500
steps, 10 greedy episodes; final: 20). Prints a markdown table and writes JSON.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_advdl(preset, seed, steps, workdir):
    out = Path(workdir) / f"advdl-{preset}-s{seed}"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, "-m", "advdl", "run", "dqn", "--env", "CartPole-v1", "--preset", preset,
           "--seed", str(seed), "--steps", str(steps), "--out", str(out), "--no-progress",
           "--eval-interval", "2500", "--eval-episodes", "10", "--final-eval-episodes", "20"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    process_seconds = time.perf_counter() - start
    summary = json.loads((out / "summary.json").read_text())
    return {"seed": seed, "wall_seconds": summary["wall_seconds"], "process_seconds": process_seconds,
            "env_steps": summary["env_steps"], "eval_seconds": summary["eval_seconds"],
            "kept_best": summary["kept_best"],
            "steps_per_second": summary["steps_per_second"], "final_mean": summary["eval"]["mean"],
            "first_eval_at_threshold": summary["first_eval_at_threshold"]}


def run_sb3(seed, steps):
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(HERE / "sb3_dqn.py"), str(seed), str(steps)],
                          check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - start
    return result


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def aggregate(name, runs, threshold=475.0):
    first = [r["first_eval_at_threshold"] for r in runs]
    row = {
        "name": name,
        "wall_seconds": median([r["wall_seconds"] for r in runs]),
        "steps_per_second": median([r["steps_per_second"] for r in runs]),
        # the same, leaving out the time spent in periodic evaluations
        "train_steps_per_second": median([r["env_steps"] / (r["wall_seconds"] - r["eval_seconds"]) for r in runs]),
        "threshold": threshold,
        "wall_to_threshold": median([f and f["wall_seconds"] for f in first]),
        "steps_to_threshold": median([f and f["env_steps"] for f in first]),
        "reached_threshold": sum(f is not None for f in first),
        "final_means": [round(r["final_mean"], 1) for r in runs],
        "final_mean_median": median([r["final_mean"] for r in runs]),
        "solved_at_end": sum(threshold is not None and r["final_mean"] >= threshold for r in runs),
    }
    if "final_mean_best_kept" in runs[0]:
        row["final_means_best_kept"] = [round(r["final_mean_best_kept"], 1) for r in runs]
        row["solved_at_end_best_kept"] = sum(r["final_mean_best_kept"] >= threshold for r in runs)
    return row


def fmt(value, digits=1):
    return "-" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def ratio(a, b):
    return a / b if a is not None and b else None


def print_report(rows, steps, seeds, env_id="CartPole-v1"):
    n, t = len(seeds), rows[0]["threshold"]
    target = "-" if t is None else f"{t:g}"
    print(f"{env_id}, {steps} env steps, seeds {','.join(map(str, seeds))}; medians over seeds\n")
    print(f"| run | wall s | env steps/s | steps/s without evals | wall s to {target} | steps to {target} | reached {target} "
          "| final means (20 episodes) | solved at end |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        finals, solved = r["final_means"], f"{r['solved_at_end']}/{n}"
        if "final_means_best_kept" in r:
            finals = f"{finals}; best kept: {r['final_means_best_kept']}"
            solved += f"; best kept: {r['solved_at_end_best_kept']}/{n}"
        print(f"| {r['name']} | {fmt(r['wall_seconds'])} | {fmt(r['steps_per_second'], 0)} "
              f"| {fmt(r['train_steps_per_second'], 0)} | {fmt(r['wall_to_threshold'])} | {fmt(r['steps_to_threshold'])} "
              f"| {r['reached_threshold']}/{n} | {finals} | {solved} |")
    sb3, ratios = rows[-1], {}
    for r in rows[:-1]:
        ratios[r["name"]] = {
            "wall_to_threshold_vs_sb3": ratio(r["wall_to_threshold"], sb3["wall_to_threshold"]),
            "steps_per_second_vs_sb3": ratio(r["steps_per_second"], sb3["steps_per_second"]),
            "train_steps_per_second_vs_sb3": ratio(r["train_steps_per_second"], sb3["train_steps_per_second"]),
        }
        x = ratios[r["name"]]
        print(f"\n{r['name']} / SB3: wall time to {target} x{fmt(x['wall_to_threshold_vs_sb3'], 2)}, "
              f"env steps/s x{fmt(x['steps_per_second_vs_sb3'], 2)} "
              f"(without evaluations x{fmt(x['train_steps_per_second_vs_sb3'], 2)}); "
              f"median final mean {fmt(r['final_mean_median'])} vs {fmt(sb3['final_mean_median'])}")
    return ratios


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2", help="Comma-separated seeds [0,1,2].")
    parser.add_argument("--steps", type=int, default=50_000, help="Env steps per run [50000].")
    parser.add_argument("--out", default=str(HERE / "results"), help="Folder for dqn_vs_sb3.json.")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    try:
        import stable_baselines3  # noqa: F401
    except ImportError:
        sys.exit('Error: this benchmark needs the baselines extra: pip install -e ".[baselines]"')
    results = {"advdl (CartPole-v1 preset)": [], "advdl (zoo preset)": [], "SB3 DQN (zoo)": []}
    with tempfile.TemporaryDirectory() as workdir:
        for seed in seeds:
            results["advdl (CartPole-v1 preset)"].append(run_advdl("CartPole-v1", seed, args.steps, workdir))
            results["advdl (zoo preset)"].append(run_advdl("zoo", seed, args.steps, workdir))
            results["SB3 DQN (zoo)"].append(run_sb3(seed, args.steps))
            print(f"seed {seed} done", file=sys.stderr)
    rows = [aggregate(name, runs) for name, runs in results.items()]
    ratios = print_report(rows, args.steps, seeds)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "dqn_vs_sb3.json").write_text(json.dumps(
        {"steps": args.steps, "seeds": seeds, "runs": results, "summary": rows, "ratios": ratios}, indent=2))


if __name__ == "__main__":
    main()
