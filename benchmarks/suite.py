"""The benchmark suite: every part, or the named ones, in one command; a machine-readable results
file; the README's suite table regenerated from it, naming the machine that produced it.

    pip install -e ".[baselines]"
    python benchmarks/suite.py                 # quick mode, about 4 minutes on 2 cores
    python benchmarks/suite.py --full          # full mode, estimated 25 to 30 minutes on 2 cores
    python benchmarks/suite.py rl supervised   # named parts only (others keep their last results)

Parts: rl (advdl compare dqn and a2c on CartPole-v1 against SB3: quick 2 seeds and a third of the
budget, full 5 seeds and the presets' budgets), generative (the DCGAN step against the book's
train_on_batch loop; the autoencoder, dae, vae and cvae presets with their scores), supervised
(the cnn's compiled step against keras fit). Each part runs its trainings one at a time.
Writes benchmarks/results/suite.json and rewrites the README between the suite markers.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
README = HERE.parent / "README.md"
RESULTS = HERE / "results" / "suite.json"
START, END = "<!-- suite:start -->", "<!-- suite:end -->"
DATA_DIR = os.environ.get("ADVDL_DATA_DIR", str(HERE.parents[1] / "shared" / "data"))


def python(*args):
    """Run ``python ARGS`` (a module's ``-m NAME`` or a script), failing loudly with its stderr."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", ADVDL_DATA_DIR=DATA_DIR)
    done = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, env=env)
    if done.returncode:
        raise RuntimeError(f"python {' '.join(map(str, args))} failed:\n{done.stderr[-2000:]}")


def advdl(*args):
    python("-m", "advdl", *args)


def script(name, *args):
    python(HERE / name, *args)


def part_rl(full, work):
    rows = []
    for algorithm, quick_steps in (("dqn", 20_000), ("a2c", 30_000)):
        out = Path(work) / f"compare-{algorithm}"
        seeds = "0-4" if full else "0,1"
        advdl("compare", algorithm, "--env", "CartPole-v1", "--seeds", seeds, "--out", out,
              *([] if full else ["--steps", quick_steps]))
        result = json.loads((out / "compare.json").read_text())
        ours, theirs = result["rows"].values()
        ratios = result["ratios_advdl_over_sb3"]
        rows.append({"measure": f"{algorithm} CartPole-v1, {result['steps']:,} steps, {len(result['seeds'])} seeds: "
                                "final mean (IQM of returns)",
                     "advdl": f"{ours['final_mean']['mean']:.1f} ({ours['returns_iqm']:.1f})",
                     "reference": f"SB3 {result['sb3']}: {theirs['final_mean']['mean']:.1f} ({theirs['returns_iqm']:.1f})",
                     "ratio": None})
        rows.append({"measure": f"{algorithm} CartPole-v1: env steps/s (median over seeds)",
                     "advdl": f"{ours['steps_per_second']:,.0f}", "reference": f"SB3: {theirs['steps_per_second']:,.0f}",
                     "ratio": ratios["steps_per_second"]})
    return rows


def part_generative(full, work):
    script("dcgan_vs_train_on_batch.py", "--out", work, *([] if full else ["--steps", 30, "--repeats", 1]))
    speed = json.loads((Path(work) / "dcgan_vs_train_on_batch.json").read_text())
    rows = [{"measure": "DCGAN training step, images/s (default precision)", "advdl": "compiled step",
             "reference": "the book's train_on_batch loop", "ratio": speed["ratio"]}]
    for name, metric in (("autoencoder", "test_mse"), ("dae", "test_mse"), ("vae", "test_elbo"), ("cvae", "label_accuracy")):
        out = Path(work) / name
        advdl("run", name, "--data", "mnist", "--out", out, "--no-progress", *([] if full else ["--epochs", 5]))
        summary = json.loads((out / "summary.json").read_text())
        rows.append({"measure": f"{name} on the offline MNIST split, {summary['epochs']} epochs: {metric}",
                     "advdl": f"{summary[metric]:.4g}", "reference": "-", "ratio": None})
    return rows


def part_supervised(full, work):
    script("cnn_vs_fit.py", "--out", work, *([] if full else ["--epochs", 2, "--repeats", 1]))
    result = json.loads((Path(work) / "cnn_vs_fit.json").read_text())
    return [{"measure": f"cnn on MNIST, {result['epochs']} epochs: training images/s", "advdl": "compiled step",
             "reference": "keras fit", "ratio": result["ratio"]}]


PARTS = {"rl": part_rl, "generative": part_generative, "supervised": part_supervised}


def machine():
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for package in ("tensorflow", "stable_baselines3", "torch"):
        try:
            versions[package] = version(package.replace("_", "-"))
        except PackageNotFoundError:
            versions[package] = None
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(), "system": platform.system(),
            **versions}


def readme_table(results):
    m = results["machine"]
    lines = [START, f"Benchmark suite, {results['mode']} mode, {results['date']} on {m['cpu']} ({m['cores']} cores), "
                    f"Python {m['python']}, TensorFlow {m['tensorflow']}, SB3 {m['stable_baselines3']} "
                    f"(`python benchmarks/suite.py{' --full' if results['mode'] == 'full' else ''}` regenerates it):", "",
             "| part | measure | advdl | reference | advdl / reference |", "|---|---|---|---|---|"]
    for part, rows in results["parts"].items():
        for row in rows:
            ratio = "-" if row["ratio"] is None else f"x{row['ratio']:.2f}"
            lines.append(f"| {part} | {row['measure']} | {row['advdl']} | {row['reference']} | {ratio} |")
    return "\n".join(lines + [END])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parts", nargs="*", help=f"Parts to run, from {', '.join(PARTS)} [all].")
    parser.add_argument("--full", action="store_true", help="Full mode (estimated 25-30 min) instead of quick (about 4).")
    parser.add_argument("--no-readme", action="store_true", help="Do not rewrite the README's suite table.")
    args = parser.parse_args()
    unknown = [p for p in args.parts if p not in PARTS]
    if unknown:
        sys.exit(f"Error: unknown part(s) {', '.join(unknown)}; parts: {', '.join(PARTS)}")
    try:
        import stable_baselines3  # noqa: F401
    except ImportError:
        if not args.parts or "rl" in args.parts:
            sys.exit('Error: the rl part needs the baselines extra: pip install -e ".[baselines]"')
    previous = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    mode = "full" if args.full else "quick"
    parts = dict(previous.get("parts", {})) if previous.get("mode") == mode else {}
    with tempfile.TemporaryDirectory() as work:
        for name in args.parts or PARTS:
            print(f"suite: {name} ...", file=sys.stderr)
            parts[name] = PARTS[name](args.full, work)
    results = {"mode": mode, "date": datetime.date.today().isoformat(), "machine": machine(),
               "parts": {name: parts[name] for name in PARTS if name in parts}}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    table = readme_table(results)
    print(table)
    if not args.no_readme:
        text = README.read_text()
        if START in text and END in text:
            text = text[:text.index(START)] + table + text[text.index(END) + len(END):]
            README.write_text(text)


if __name__ == "__main__":
    main()
