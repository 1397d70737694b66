"""`advdl run cnn` against a plain `model.fit` of the same network on the same data, side by side.

    python benchmarks/cnn_vs_fit.py [--epochs 5] [--data-dir ../shared/data]

Both train the book's CNN (80,266 parameters) on the same images with batch 128 and Adam 1e-3,
evaluating the test split after every epoch; each runs alone in its own process. Reported: wall
seconds of the training (after start-up), training images per second, final test accuracy.
Plain `fit` runs with Keras' defaults; advdl runs its train step as a tf.function under
TensorFlow's op determinism, which makes runs reproducible.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

FIT = r"""
import json, sys, time
from advdl.api.backend import import_tensorflow
from advdl.datasets.data import mnist
from advdl_plugins.supervised import CNNConfig
from advdl_plugins.supervised.networks import build
epochs, data_dir = int(sys.argv[1]), sys.argv[2]
tf, keras = import_tensorflow()
keras.utils.set_random_seed(0)
data = mnist(data_dir)
x, xt = data.x_train.astype("float32") / 255, data.x_test.astype("float32") / 255
model = build(CNNConfig(), data.image_shape, 10)
model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
start = time.perf_counter()
model.fit(x, data.y_train, batch_size=128, epochs=epochs, validation_data=(xt, data.y_test), verbose=0)
wall = time.perf_counter() - start
print(json.dumps({"wall_seconds": wall, "test_accuracy": model.evaluate(xt, data.y_test, verbose=0)[1],
                  "images_per_second": len(x) * epochs / wall}))
"""


def run_advdl(epochs, data_dir, workdir):
    out = Path(workdir) / "advdl-cnn"
    cmd = [sys.executable, "-m", "advdl", "run", "cnn", "--data", "mnist", "--data-dir", data_dir, "--epochs",
           str(epochs), "--set", "augment_shift=0", "--out", str(out), "--no-progress"]
    subprocess.run(cmd, check=True, capture_output=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    summary = json.loads((out / "summary.json").read_text())
    return {"wall_seconds": summary["wall_seconds"], "test_accuracy": summary["test_accuracy"],
            "images_per_second": summary["train_images"] * epochs / summary["wall_seconds"]}


def run_fit(epochs, data_dir):
    done = subprocess.run([sys.executable, "-c", FIT, str(epochs), data_dir], check=True, capture_output=True,
                          text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5, help="Epochs per run [5].")
    parser.add_argument("--data-dir", default=os.environ.get("ADVDL_DATA_DIR", str(HERE.parents[1] / "shared" / "data")),
                        help="Offline MNIST directory [$ADVDL_DATA_DIR or ../shared/data].")
    parser.add_argument("--repeats", type=int, default=2, help="Alternating runs of each [2].")
    parser.add_argument("--out", default=str(HERE / "results"), help="Folder for cnn_vs_fit.json.")
    args = parser.parse_args()
    runs = {"advdl run cnn": [], "model.fit": []}
    with tempfile.TemporaryDirectory() as workdir:
        for i in range(args.repeats):
            runs["advdl run cnn"].append(run_advdl(args.epochs, args.data_dir, f"{workdir}/{i}"))
            runs["model.fit"].append(run_fit(args.epochs, args.data_dir))
    best = {name: max(r["images_per_second"] for r in rs) for name, rs in runs.items()}
    print(f"book CNN on the offline MNIST split, {args.epochs} epochs, best of {args.repeats}\n")
    print("| run | wall s | images/s | test accuracy |\n|---|---|---|---|")
    for name, rs in runs.items():
        r = max(rs, key=lambda r: r["images_per_second"])
        print(f"| {name} | {r['wall_seconds']:.1f} | {r['images_per_second']:.0f} | {r['test_accuracy']:.4f} |")
    ratio = best["advdl run cnn"] / best["model.fit"]
    print(f"\nadvdl / fit images per second: {ratio:.2f}")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "cnn_vs_fit.json").write_text(json.dumps({"epochs": args.epochs, "runs": runs, "ratio": ratio},
                                                              indent=2))


if __name__ == "__main__":
    main()
