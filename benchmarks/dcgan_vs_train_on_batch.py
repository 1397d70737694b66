"""advdl's `dcgan` train step against the book's training style, side by side.

    python benchmarks/dcgan_vs_train_on_batch.py [--steps 60] [--repeats 3]

advdl runs twice: with its default precision (``auto``: bfloat16 arithmetic on a CPU with native
bfloat16 instructions, float32 elsewhere) and forced to float32, so the table separates what the
train step's structure gains from what the arithmetic gains. The reference is the book's loop:
`discriminator.train_on_batch` on real and fake images, then `adversarial.train_on_batch` on a
combined model (generator + discriminator frozen), in float32, same networks
(advdl_plugins.gan.gan), same batch of 64, RMSprop 2e-4 / 1e-4. Each runs alone in its own process
on random MNIST-shaped images; reported: training images per second after warm-up.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

ADVDL = r"""
import json, sys, time
import numpy as np
from advdl.api.interfaces import DataInfo
from advdl_plugins.gan import GANConfig
from advdl_plugins.gan.gan import GAN
steps, precision = int(sys.argv[1]), sys.argv[2]
model = GAN(GANConfig(precision=precision), DataInfo("mnist", (28, 28, 1), 10), seed=0, total_steps=steps)
x = np.random.default_rng(0).integers(0, 256, (64, 28, 28, 1), dtype=np.uint8)
y = np.zeros(64, np.int64)
for _ in range(3):
    model.train_step(x, y)
start = time.perf_counter()
for _ in range(steps):
    model.train_step(x, y)
print(json.dumps({"images_per_second": 64 * steps / (time.perf_counter() - start)}))
"""

BOOK = r"""
import json, sys, time
import numpy as np
from advdl.api.backend import import_tensorflow
tf, keras = import_tensorflow(seed=0)
from advdl_plugins.gan.gan import discriminator, generator
steps = int(sys.argv[1])
g = generator(keras, 100, 0, (28, 28, 1))
d = discriminator(keras, (28, 28, 1), 0, False)
d_out = keras.layers.Activation("sigmoid")(d.outputs[0])
d = keras.Model(d.inputs, d_out)
d.compile(keras.optimizers.RMSprop(2e-4), "binary_crossentropy")
d.trainable = False
z = keras.Input((100,))
adversarial = keras.Model(z, d(g(z)))
adversarial.compile(keras.optimizers.RMSprop(1e-4), "binary_crossentropy")
rng = np.random.default_rng(0)
real = rng.integers(0, 256, (64, 28, 28, 1)).astype(np.float32) / 255.0
ones, zeros = np.ones((64, 1)), np.zeros((64, 1))

def step():
    noise = rng.uniform(-1, 1, (64, 100)).astype(np.float32)
    fake = g.predict(noise, verbose=0)
    d.train_on_batch(np.concatenate([real, fake]), np.concatenate([ones, zeros]))
    adversarial.train_on_batch(rng.uniform(-1, 1, (64, 100)).astype(np.float32), ones)

for _ in range(3):
    step()
start = time.perf_counter()
for _ in range(steps):
    step()
print(json.dumps({"images_per_second": 64 * steps / (time.perf_counter() - start)}))
"""


def measure(source, steps, *args):
    done = subprocess.run([sys.executable, "-c", source, str(steps), *args], check=True, capture_output=True,
                          text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])["images_per_second"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=60, help="Timed steps per run [60].")
    parser.add_argument("--repeats", type=int, default=3, help="Alternating runs of each [3].")
    parser.add_argument("--out", default=str(HERE / "results"), help="Folder for dcgan_vs_train_on_batch.json.")
    args = parser.parse_args()
    from advdl.api.backend import cpu_has_native_bfloat16

    default = "bfloat16" if cpu_has_native_bfloat16() else "float32"
    runs = {f"advdl dcgan (default: {default})": [], "advdl dcgan (float32)": [], "book style (train_on_batch)": []}
    for _ in range(args.repeats):
        runs[f"advdl dcgan (default: {default})"].append(measure(ADVDL, args.steps, "auto"))
        runs["advdl dcgan (float32)"].append(measure(ADVDL, args.steps, "float32"))
        runs["book style (train_on_batch)"].append(measure(BOOK, args.steps))
    best = {name: max(values) for name, values in runs.items()}
    print(f"DCGAN (the book's networks), batch 64, {args.steps} steps, best of {args.repeats}\n")
    print("| run | training images/s |\n|---|---|")
    for name, value in best.items():
        print(f"| {name} | {value:.0f} |")
    book = best["book style (train_on_batch)"]
    ratio = best[f"advdl dcgan (default: {default})"] / book
    print(f"\nadvdl (default) / book style: {ratio:.2f}x; advdl float32 / book style: "
          f"{best['advdl dcgan (float32)'] / book:.2f}x")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "dcgan_vs_train_on_batch.json").write_text(
        json.dumps({"steps": args.steps, "runs": runs, "ratio": ratio,
                    "ratio_float32": best["advdl dcgan (float32)"] / book}, indent=2))


if __name__ == "__main__":
    main()
