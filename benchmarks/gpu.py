"""The GPU path, measured (and on a CPU with smaller budgets, so CI runs it too).

    python benchmarks/gpu.py            # results: benchmarks/results/gpu.json (device and versions inside)
    python benchmarks/gpu.py --smoke    # seconds: every measurement once, tiny (tests/test_devices.py runs it)

1. Train-step throughput (images/s) of each dataset family, three ways on the same network and batch:
   advdl's compiled train step (for the cnn also with the training set kept on the device, each batch
   gathered there: ``device_data=on``); the book's style (`train_on_batch` on a compiled Keras model; for the GAN
   the book's discriminator + adversarial pair); `model.fit` (classifier, autoencoder) on the same images.
2. RL env steps/s of `dqn` and `a2c` on CartPole-v1 (their presets), and SB3's DQN/A2C on the same budget
   when the baselines extra is installed (skipped with --smoke).
3. Time to a quality threshold (skipped with --smoke): `cnn` to 99% test accuracy on the offline MNIST
   split, `cgan` to 90% label accuracy, each epoch by epoch within a budget of epochs.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "gpu.json"


def images_per_second(step, batch, steps, warmup=2):
    for _ in range(warmup):
        step()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return round(batch * steps / (time.perf_counter() - started), 1)


def step_throughput(batch, steps):
    import numpy as np
    from advdl_plugins.autoencoder import AutoencoderConfig
    from advdl_plugins.autoencoder.autoencoder import Autoencoder
    from advdl_plugins.gan import GANConfig
    from advdl_plugins.gan.gan import GAN, discriminator, generator
    from advdl_plugins.supervised import CNNConfig
    from advdl_plugins.supervised.classifier import Classifier

    from advdl.api.backend import import_tensorflow
    from advdl.api.interfaces import DataInfo

    tf, keras = import_tensorflow(seed=0)
    info = DataInfo("mnist", (28, 28, 1), 10)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (batch, 28, 28, 1), dtype=np.uint8)
    y = rng.integers(0, 10, batch).astype(np.int64)
    xf = x.astype(np.float32) / 255.0
    rows = {}

    model = Classifier(CNNConfig(batch_size=batch), info, seed=0, total_steps=steps)
    plain = keras.models.clone_model(model.network)
    plain.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    rows["supervised (cnn)"] = {
        "advdl_step": images_per_second(lambda: model.train_step(x, y), batch, steps),
        "train_on_batch": images_per_second(lambda: plain.train_on_batch(xf, y), batch, steps),
        "fit": _fit(plain, xf, y, batch, steps)}
    x_dev, y_dev = tf.constant(np.concatenate([x] * 4)), tf.constant(np.concatenate([y] * 4))  # device_data=on
    index = tf.constant(np.arange(batch))
    rows["supervised (cnn)"]["advdl_step_device_data"] = images_per_second(
        lambda: model.train_step(tf.gather(x_dev, index), tf.gather(y_dev, index)), batch, steps)

    gan = GAN(GANConfig(batch_size=batch), info, seed=0, total_steps=steps)
    g, d = generator(keras, 100, 0, (28, 28, 1)), discriminator(keras, (28, 28, 1), 0, False)
    d = keras.Model(d.inputs, keras.layers.Activation("sigmoid")(d.outputs[0]))
    d.compile(keras.optimizers.RMSprop(2e-4), "binary_crossentropy")
    d.trainable = False
    z = keras.Input((100,))
    adversarial = keras.Model(z, d(g(z)))
    adversarial.compile(keras.optimizers.RMSprop(1e-4), "binary_crossentropy")
    ones, zeros = np.ones((batch, 1)), np.zeros((batch, 1))

    def book_step():
        noise = rng.uniform(-1, 1, (batch, 100)).astype(np.float32)
        d.train_on_batch(np.concatenate([xf, g.predict(noise, verbose=0)]), np.concatenate([ones, zeros]))
        adversarial.train_on_batch(noise, ones)

    rows[f"generative (dcgan, {gan.precision[0]})"] = {
        "advdl_step": images_per_second(lambda: gan.train_step(x, y), batch, steps),
        "train_on_batch": images_per_second(book_step, batch, steps)}

    auto = Autoencoder(AutoencoderConfig(batch_size=batch), info, seed=0, total_steps=steps)
    plain_auto = keras.models.clone_model(auto.network)
    plain_auto.compile(keras.optimizers.Adam(1e-3), "mse")
    rows["autoencoder"] = {
        "advdl_step": images_per_second(lambda: auto.train_step(x, y), batch, steps),
        "train_on_batch": images_per_second(lambda: plain_auto.train_on_batch(xf, xf), batch, steps),
        "fit": _fit(plain_auto, xf, xf, batch, steps)}
    return rows


def _fit(model, x, y, batch, steps):
    import numpy as np

    xs, ys = np.concatenate([x] * steps), np.concatenate([y] * steps)
    model.fit(xs[:batch * 2], ys[:batch * 2], batch_size=batch, epochs=1, verbose=0)  # warm-up
    started = time.perf_counter()
    model.fit(xs, ys, batch_size=batch, epochs=1, verbose=0, shuffle=False)
    return round(len(xs) / (time.perf_counter() - started), 1)


def rl_throughput(steps, with_sb3):
    from advdl.testing import run_algorithm

    rows = {}
    with tempfile.TemporaryDirectory() as work:
        for algorithm in ("dqn", "a2c"):
            summary = run_algorithm(algorithm, "CartPole-v1", Path(work) / algorithm, steps=steps, eval_interval=0,
                                    final_eval_episodes=2)
            rows[algorithm] = {"advdl_steps_per_second": summary["steps_per_second"]}
            if with_sb3:
                rows[algorithm]["sb3_steps_per_second"] = _sb3(algorithm, steps)
    return rows


def _sb3(algorithm, steps):
    try:
        import stable_baselines3 as sb3
    except ImportError:
        return None
    import gymnasium as gym

    make = {"dqn": lambda env: sb3.DQN("MlpPolicy", env, learning_starts=1000, seed=0, device="auto"),
            "a2c": lambda env: sb3.A2C("MlpPolicy", env, seed=0, device="auto")}[algorithm]
    agent = make(gym.make("CartPole-v1"))
    started = time.perf_counter()
    agent.learn(steps)
    return round(steps / (time.perf_counter() - started), 1)


def time_to_quality(max_epochs, data_dir):
    from advdl.testing import run_algorithm

    out = {}
    with tempfile.TemporaryDirectory() as work:
        for name, metric, target in (("cnn", "test_accuracy", 0.99), ("cgan", "label_accuracy", 0.90)):
            summary = run_algorithm(name, "mnist", Path(work) / name, epochs=max_epochs, data_dir=data_dir)
            reached = next((row for row in summary["history"] if row.get(metric, 0) >= target), None)
            out[name] = {"metric": metric, "target": target, "epochs_budget": max_epochs,
                         "final": summary["history"][-1].get(metric), "wall_seconds": summary["wall_seconds"],
                         "reached_at_epoch": reached and reached["epoch"]}
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="Tiny budgets, no SB3, no time-to-quality.")
    parser.add_argument("--epochs", type=int, default=3, help="Epoch budget of the time-to-quality runs [3].")
    parser.add_argument("--data-dir", default=os.environ.get("ADVDL_DATA_DIR", str(HERE.parent.parent / "shared" / "data")),
                        help="The offline MNIST files [ADVDL_DATA_DIR].")
    parser.add_argument("--out", default=str(RESULTS), help=f"Results JSON [{RESULTS}].")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent))
    from advdl.commands.system import system_facts

    batch, steps = (32, 3) if args.smoke else (128, 30)
    result = {"device": system_facts(), "smoke": args.smoke, "batch": batch,
              "step_throughput": step_throughput(batch, steps),
              "rl": rl_throughput(1000 if args.smoke else 50_000, with_sb3=not args.smoke)}
    if not args.smoke:
        result["time_to_quality"] = time_to_quality(args.epochs, args.data_dir)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "device"}, indent=1))


if __name__ == "__main__":
    main()
