"""The book's chapter 10 benchmark: the four policy-gradient methods on MountainCarContinuous-v0.

    python benchmarks/mountaincar_continuous.py [--methods a2c,reinforce-baseline,...] [--seeds 0,1,2]
                                                [--preset MountainCarContinuous-v0|book]

Each run: 1,000 training episodes (the preset's budget), then 100 deterministic evaluation
episodes. Reported per method and seed: how many training episodes reached the flag (ended by
the environment rather than the 999-step limit), the evaluation mean, env steps and wall time.
The book's table: A2C reached the flag most often, then REINFORCE with baseline, Actor-Critic,
REINFORCE; only REINFORCE with baseline consistently scored about 90.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
METHODS = ("a2c", "reinforce-baseline", "actor-critic", "reinforce")
ENV = "MountainCarContinuous-v0"


def run(method, seed, preset, workdir):
    out = Path(workdir) / f"{method}-{preset}-s{seed}"
    cmd = [sys.executable, "-m", "advdl", "run", method, "--env", ENV, "--preset", preset, "--seed", str(seed),
           "--out", str(out), "--no-progress"]
    subprocess.run(cmd, check=True, capture_output=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    summary = json.loads((out / "summary.json").read_text())
    return {"method": method, "seed": seed, "flags": summary["terminated_episodes"], "episodes": summary["episodes"],
            "eval_mean": round(summary["eval"]["mean"], 2), "eval_episodes": summary["eval"]["episodes"],
            "env_steps": summary["env_steps"], "wall_seconds": summary["wall_seconds"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default=",".join(METHODS), help=f"Comma-separated [{','.join(METHODS)}].")
    parser.add_argument("--seeds", default="0,1,2", help="Comma-separated seeds [0,1,2].")
    parser.add_argument("--preset", default=ENV, help=f"{ENV} (advdl's settings) or book [{ENV}].")
    parser.add_argument("--out", default=str(HERE / "results"), help="Folder for the results JSON file.")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for method in args.methods.split(","):
            for seed in seeds:
                rows.append(run(method, seed, args.preset, workdir))
                print(json.dumps(rows[-1]), file=sys.stderr)
    print(f"{ENV}, preset {args.preset}, seeds {args.seeds}: flags reached in 1,000 training episodes; "
          "evaluation mean over 100 episodes\n")
    print("| method | flags reached (per seed) | evaluation mean (per seed) | seeds >= 90 | env steps | wall s |")
    print("|---|---|---|---|---|---|")
    for method in args.methods.split(","):
        mine = [r for r in rows if r["method"] == method]

        def cells(key, form="{}"):
            return ", ".join(form.format(r[key]) for r in mine)  # noqa: B023

        print(f"| {method} | {cells('flags')} | {cells('eval_mean', '{:.1f}')} "
              f"| {sum(r['eval_mean'] >= 90 for r in mine)}/{len(mine)} | {cells('env_steps')} "
              f"| {cells('wall_seconds', '{:.0f}')} |")
    # merge with earlier results of other methods or seeds (the slow actor-critic runs separately)
    path = Path(args.out) / ("mountaincar_continuous.json" if args.preset == ENV
                             else f"mountaincar_continuous_{args.preset}.json")
    earlier = json.loads(path.read_text())["runs"] if path.exists() else []
    done = {(r["method"], r["seed"]) for r in rows}
    rows = [r for r in earlier if (r["method"], r["seed"]) not in done] + rows
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"env": ENV, "preset": args.preset, "runs": rows}, indent=2))


if __name__ == "__main__":
    main()
