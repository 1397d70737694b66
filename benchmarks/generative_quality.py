"""Generative quality over seeds: every GAN and VAE preset on the offline MNIST split, 3 seeds, each
seed's samples scored by ``advdl score --n 2000`` against the held-out images beside the real-data
floor (2,000 real training images against the same held-out ones), the VAEs' ELBO, wall time.

    python benchmarks/generative_quality.py                       # every entry, seeds 0-2 (hours on 2 cores)
    python benchmarks/generative_quality.py --models dcgan        # a piece: results merge into the JSON
    python benchmarks/generative_quality.py --models dcgan --set label_smoothing=0.1 --label dcgan+smooth
    python benchmarks/generative_quality.py --markdown            # the README table from the results so far

Each entry trains with ``advdl run NAME --data mnist --preset P --seeds K`` into one multi-seed folder
(WORKDIR/LABEL; an interrupted seed resumes from its checkpoint), then scores that seed. That folder
has one writer at a time: to run two seeds of one entry side by side, give each its own --workdir
(and pin each to a core, e.g. ``taskset -c 1``). A seed already in the JSON is skipped unless
--rerun. Results: benchmarks/results/generative_quality.json, one entry per (label, seed); the table
shows each score's mean over seeds with a 95% Student-t interval (3 seeds: mean +- 4.30 standard
errors) and the per-seed values.
"""

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "generative_quality.json"
WORKDIR = HERE.parent / "runs" / "generative_quality"  # /runs/ is ignored by git
CLIPPING = ("gradient_penalty=0", "clip_value=0.01", "d_learning_rate=5e-5", "g_learning_rate=5e-5")
ENTRIES = {  # label -> (algorithm, preset, --set settings, what the row says)
    "dcgan": ("dcgan", "mnist", (), ""),
    "lsgan": ("lsgan", "mnist", (), ""),
    "cgan": ("cgan", "mnist", (), ""),
    "acgan": ("acgan", "mnist", (), ""),
    "wgan": ("wgan", "mnist", (), "WGAN-GP"),
    "wgan-clipping": ("wgan", "mnist", CLIPPING, "the book's clipping and learning rates, the mnist preset's budget"),
    "infogan": ("infogan", "mnist", (), ""),
    "stackedgan": ("stackedgan", "mnist", (), ""),
    "vae": ("vae", "mnist", (), "MLP, 2-d z"),
    "cvae": ("cvae", "mnist", (), "CNN, 2-d z"),
    "beta-vae": ("beta-vae", "mnist", (), "beta 7"),
}
FLOOR_FACTOR = 1.25  # the unconditional GANs' target: a Frechet distance at most 1.25x the real-data floor
TARGETS = {"dcgan": ("frechet_ratio", FLOOR_FACTOR), "lsgan": ("frechet_ratio", FLOOR_FACTOR),
           "wgan": ("frechet_ratio", FLOOR_FACTOR), "infogan": ("code_accuracy", 0.80)}
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}


def interval(values):
    """(mean, low, high): the mean and its 95% Student-t interval (None for one value)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, None, None
    half = T_975.get(len(values) - 1, 1.96) * statistics.stdev(values) / math.sqrt(len(values))
    return mean, mean - half, mean + half


def iqm(values):
    """Interquartile mean: the mean of the middle half (for 3 values, the median)."""
    ordered = sorted(values)
    cut = len(ordered) // 4
    return statistics.fmean(ordered[cut:len(ordered) - cut])


def train_and_score(label, algorithm, preset, settings, seed, workdir, n, fresh=False):
    out = Path(workdir) / label
    if fresh:  # --rerun: a finished seed folder would be taken as done
        shutil.rmtree(out / f"seed-{seed}", ignore_errors=True)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, "-m", "advdl", "run", algorithm, "--data", "mnist", "--preset", preset,
               "--seeds", str(seed), "--out", str(out), "--no-progress",
               *(flag for setting in settings for flag in ("--set", setting))]
    done = subprocess.run(command, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    run_dir = out / f"seed-{seed}"
    if not (run_dir / "summary.json").is_file():
        log = out / f"seed-{seed}.log"
        lines = (log.read_text().strip().splitlines() if log.is_file() else []) or done.stderr.strip().splitlines()
        return {"error": (lines or ["failed"])[-1][:300]}
    summary = json.loads((run_dir / "summary.json").read_text())
    done = subprocess.run([sys.executable, "-m", "advdl", "score", str(run_dir), "--n", str(n), "--json"],
                          capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or ["score failed"])[-1][:300]}
    scores = json.loads(done.stdout)
    floor = scores.pop("floor")
    result = {k: v for k, v in scores.items() if isinstance(v, (int, float)) and k != "samples"}
    result["frechet_ratio"] = result["frechet_distance"] / floor["frechet_distance"]
    result["floor"] = floor
    result |= {k: summary[k] for k in ("test_elbo", "test_reconstruction", "test_kl") if k in summary}
    result |= {"wall_seconds": summary["wall_seconds"], "epochs": summary["epochs"], "steps": summary["steps"],
               "kept_best": summary.get("kept_best"), "precision": summary["precision"]["policy"]}
    return result


def load():
    return json.loads(RESULTS.read_text())["runs"] if RESULTS.exists() else []


def save(runs):
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"samples_scored": 2000, "runs": runs}, indent=1) + "\n")


def summarize(runs, label):
    """The entry's per-metric (mean, low, high, per-seed values), targets met per seed."""
    mine = sorted((r for r in runs if r["label"] == label and "frechet_distance" in r), key=lambda r: r["seed"])
    if not mine:
        return None
    metrics = {}
    for key in ("frechet_distance", "frechet_ratio", "kid", "classifier_score", "label_accuracy", "code_accuracy",
                "test_elbo", "wall_seconds"):
        values = [r[key] for r in mine if r.get(key) is not None]
        if values:
            metrics[key] = {"mean": interval(values)[0], "ci95": interval(values)[1:], "iqm": iqm(values),
                            "values": values}
    target = TARGETS.get(label)
    met = None
    if target:
        key, bound = target
        met = sum((r[key] <= bound) if key == "frechet_ratio" else (r.get(key, 0) >= bound) for r in mine)
    return {"seeds": [r["seed"] for r in mine], "metrics": metrics, "target": target, "met": met}


def markdown(runs):
    def show(metric, digits, percent=False):
        if metric is None:
            return "-"
        scale = 100 if percent else 1
        mean, (low, high) = metric["mean"] * scale, metric["ci95"]
        text = f"{mean:.{digits}f}" + ("%" if percent else "")
        if low is not None:
            text += f" [{low * scale:.{digits}f}, {high * scale:.{digits}f}]"
        return text + " (" + " / ".join(f"{v * scale:.{digits}f}" for v in metric["values"]) + ")"

    lines = ["| model (preset) | seeds | wall s | Frechet distance [95% CI] (per seed) | x floor | KID | "
             "classifier score | label / code accuracy | ELBO (nats) | target met |", "|---|" + "---|" * 9]
    labels = list(ENTRIES) + sorted({r["label"] for r in runs} - set(ENTRIES))
    for label in labels:
        s = summarize(runs, label)
        if s is None:
            continue
        m = s["metrics"]
        first = next(r for r in runs if r["label"] == label)
        preset, settings = first["preset"], first["settings"]
        what = ENTRIES[label][3] if label in ENTRIES else ", ".join(settings)
        accuracy = m.get("code_accuracy") or m.get("label_accuracy")
        name = f"`{label}` ({preset}{', ' + what if what else ''})"
        target = "-"
        if s["target"]:
            key, bound = s["target"]
            target = (f"{s['met']}/{len(s['seeds'])} seeds at <= {bound:g}x floor" if key == "frechet_ratio"
                      else f"{s['met']}/{len(s['seeds'])} seeds at >= {bound:.0%} code accuracy")
        lines.append(f"| {name} | {len(s['seeds'])} | {m['wall_seconds']['mean']:.0f} | "
                     f"{show(m['frechet_distance'], 1)} | {m['frechet_ratio']['mean']:.2f} | {show(m['kid'], 2)} | "
                     f"{show(m['classifier_score'], 2)} | {show(accuracy, 1, percent=True)} | "
                     f"{show(m.get('test_elbo'), 1)} | {target} |")
    floors = sorted({round(r["floor"]["frechet_distance"], 1) for r in runs if "floor" in r})
    if floors:
        lines.append(f"| real training images (floor) | | | {' / '.join(map(str, floors))} | 1.00 | | | | | |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(ENTRIES), help="Comma-separated entries (labels) [all].")
    parser.add_argument("--seeds", default="0,1,2", help="Comma-separated seeds [0,1,2].")
    parser.add_argument("--set", dest="settings", action="append", default=[],
                        help="KEY=VALUE added to every run (an ablation; give it its own --label).")
    parser.add_argument("--label", help="Name the results of a single model run with --set (default: the model).")
    parser.add_argument("--workdir", default=str(WORKDIR), help=f"Where the run folders go [{WORKDIR}].")
    parser.add_argument("--n", type=int, default=2000, help="Samples scored per seed [2000].")
    parser.add_argument("--rerun", action="store_true", help="Train and score seeds already in the results again.")
    parser.add_argument("--markdown", action="store_true", help="Only print the README table from the results.")
    args = parser.parse_args()
    runs = load()
    models = args.models.split(",")
    if args.label and len(models) != 1:
        parser.error("--label names the results of one model")
    if not args.markdown:
        for model in models:
            if model not in ENTRIES and not args.label:
                parser.error(f"unknown entry {model!r}; one of {', '.join(ENTRIES)} (or name an ablation with --label)")
            algorithm, preset, settings, _ = ENTRIES.get(model, (model, "mnist", (), ""))
            label = args.label or model
            settings = (*settings, *args.settings)
            for seed in [int(s) for s in args.seeds.split(",")]:
                if not args.rerun and any(r["label"] == label and r["seed"] == seed and "error" not in r for r in runs):
                    continue
                result = train_and_score(label, algorithm, preset, settings, seed, args.workdir, args.n, args.rerun)
                run = {"label": label, "algorithm": algorithm, "preset": preset, "settings": list(settings),
                       "seed": seed, **result}
                # read again before writing: pieces may run side by side (one per core)
                runs = [r for r in load() if (r["label"], r["seed"]) != (label, seed)] + [run]
                save(runs)
                print(json.dumps(run), file=sys.stderr, flush=True)
    print(markdown(runs))


if __name__ == "__main__":
    main()
