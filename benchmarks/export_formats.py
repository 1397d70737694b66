"""advdl export per format: the time to write and verify each part, its file size, the largest difference
from the Keras model, for one model of each family (short runs: the sizes and times do not depend on how
well the weights learned).

    python benchmarks/export_formats.py            # results: benchmarks/results/export_formats.json
    python benchmarks/export_formats.py --markdown # the README table from the results
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "export_formats.json"
RUNS = {
    "dqn": ("CartPole-v1", dict(steps=2000, learning_starts=500, eval_interval=0, final_eval_episodes=2)),
    "a2c": ("Pendulum-v1", dict(steps=2000, eval_interval=0, final_eval_episodes=2)),
    "cnn": ("synthetic_mnist", dict(epochs=1)),
    "cgan": ("synthetic_mnist", dict(epochs=1)),
    "autoencoder": ("synthetic_mnist", dict(epochs=1)),
}
FORMATS = ("savedmodel", "tflite", "onnx")


def measure():
    from advdl.loading.manager import get_registry
    from advdl.runs.export import export_run
    from advdl.testing import run_algorithm

    registry, rows = get_registry(), []
    with tempfile.TemporaryDirectory() as work:
        for algorithm, (target, settings) in RUNS.items():
            run_dir = Path(work) / algorithm
            run_algorithm(algorithm, target, run_dir, **settings)
            for fmt in FORMATS:
                started = time.perf_counter()
                records = export_run(run_dir, registry, fmt, out=Path(work) / f"{algorithm}-{fmt}",
                                     report=lambda line: print(line, file=sys.stderr))
                seconds = time.perf_counter() - started
                for record in records:
                    rows.append({"algorithm": algorithm, "target": target, "command_seconds": round(seconds, 2),
                                 **{k: record[k] for k in ("part", "format", "bytes", "export_seconds",
                                                           "max_difference")},
                                 **({"actions_agree": record["actions_agree"]} if "actions_agree" in record else {})})
    return rows


def markdown(rows):
    lines = ["| model, part | " + " | ".join(FORMATS) + " |", "|---|" + "---|" * len(FORMATS)]
    keys = list(dict.fromkeys((r["algorithm"], r["part"]) for r in rows))
    for algorithm, part in keys:
        cells = []
        for fmt in FORMATS:
            r = next(r for r in rows if (r["algorithm"], r["part"], r["format"]) == (algorithm, part, fmt))
            cells.append(f"{r['bytes'] / 1024:.0f} KB, {r['export_seconds']:.1f} s, diff {r['max_difference']:.1g}")
        lines.append(f"| `{algorithm}` {part} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markdown", action="store_true", help="Only print the README table from the results.")
    args = parser.parse_args()
    if not args.markdown:
        import platform

        rows = measure()
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps({"machine": platform.processor() or platform.machine(), "rows": rows},
                                      indent=1) + "\n")
    print(markdown(json.loads(RESULTS.read_text())["rows"]))


if __name__ == "__main__":
    main()
