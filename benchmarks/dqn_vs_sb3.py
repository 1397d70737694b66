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
           "--seed", str(seed), "--steps", str(steps), "--out", str(out), "--no-progress"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    process_seconds = time.perf_counter() - start
    summary = json.loads((out / "summary.json").read_text())
    return {"seed": seed, "wall_seconds": summary["wall_seconds"], "process_seconds": process_seconds,
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


def aggregate(name, runs):
    first = [r["first_eval_at_threshold"] for r in runs]
    return {
        "name": name,
        "wall_seconds": median([r["wall_seconds"] for r in runs]),
        "steps_per_second": median([r["steps_per_second"] for r in runs]),
        "wall_to_475": median([f and f["wall_seconds"] for f in first]),
        "steps_to_475": median([f and f["env_steps"] for f in first]),
        "reached_475": sum(f is not None for f in first),
        "final_means": [round(r["final_mean"], 1) for r in runs],
        "solved_at_end": sum(r["final_mean"] >= 475 for r in runs),
    }


def fmt(value, digits=1):
    return "-" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


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
    sb3 = rows[-1]
    print(f"CartPole-v1, {args.steps} env steps, seeds {args.seeds} (medians over seeds)\n")
    print("| run | wall s | env steps/s | wall s to 475 | steps to 475 | seeds reaching 475 | final means | solved at end |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {fmt(r['wall_seconds'])} | {fmt(r['steps_per_second'], 0)} | {fmt(r['wall_to_475'])} "
              f"| {fmt(r['steps_to_475'])} | {r['reached_475']}/{len(seeds)} | {r['final_means']} "
              f"| {r['solved_at_end']}/{len(seeds)} |")
    ratios = {}
    for r in rows[:-1]:
        ratios[r["name"]] = {
            "wall_to_475_vs_sb3": r["wall_to_475"] / sb3["wall_to_475"] if r["wall_to_475"] and sb3["wall_to_475"] else None,
            "steps_per_second_vs_sb3": r["steps_per_second"] / sb3["steps_per_second"],
        }
        print(f"\n{r['name']}: wall time to 475 = {fmt(ratios[r['name']]['wall_to_475_vs_sb3'], 3)} x SB3's; "
              f"env steps/s = {fmt(ratios[r['name']]['steps_per_second_vs_sb3'], 2)} x SB3's")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "dqn_vs_sb3.json").write_text(json.dumps(
        {"steps": args.steps, "seeds": seeds, "runs": results, "summary": rows, "ratios": ratios}, indent=2))


if __name__ == "__main__":
    main()
