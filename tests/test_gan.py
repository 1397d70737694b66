"""GANs and the scoring facility: the metrics on known cases, training that lowers the Frechet
distance, `advdl sample` and `advdl score`, clear errors."""

import json
import os

import numpy as np
import pytest
from conftest import assert_user_error

from advdl.scoring import classifier_score, frechet_distance, kernel_inception_distance
from advdl.testing import run_algorithm


@pytest.fixture(scope="module", autouse=True)
def scorer_cache(tmp_path_factory):
    """One scorer cache for the module: the classifier is trained once per dataset."""
    before = os.environ.get("ADVDL_CACHE_DIR")
    os.environ["ADVDL_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if before is None:
        os.environ.pop("ADVDL_CACHE_DIR")
    else:
        os.environ["ADVDL_CACHE_DIR"] = before


def test_frechet_distance_of_gaussians_matches_the_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(0.0, 1.0, (20000, 3))
    b = rng.normal(2.0, 2.0, (20000, 3))
    # ||mu_a - mu_b||^2 + sum(1 + 4 - 2 * sqrt(1 * 4)) per dimension = 3 * 4 + 3 * 1
    assert frechet_distance(a, b) == pytest.approx(15.0, rel=0.03)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(1000, 8)), rng.normal(size=(1000, 8))
    assert abs(kernel_inception_distance(a, b)) < 0.05
    assert kernel_inception_distance(a, b + 1.0) > 1.0


def test_classifier_score_ranges_from_one_to_the_number_of_classes():
    assert classifier_score(np.full((100, 10), 0.1)) == pytest.approx(1.0)
    assert classifier_score(np.eye(10)[np.arange(100) % 10]) == pytest.approx(10.0, rel=1e-6)


@pytest.fixture(scope="module")
def trained_cgan(tmp_path_factory):
    """A conditional GAN trained 250 steps on synthetic digits (about 30 s, the scorer included)."""
    out = tmp_path_factory.mktemp("cgan") / "run"
    summary = run_algorithm("cgan", "synthetic_mnist", out, epochs=2, sample_every=1, batch_size=16,
                            d_learning_rate=4e-4, g_learning_rate=2e-4)
    return out, summary


def test_training_lowers_the_frechet_distance(trained_cgan):
    out, summary = trained_cgan
    distances = [row["frechet_distance"] for row in summary["history"]]
    untrained = _untrained_distance(out)
    assert distances[-1] < 0.5 * untrained  # clearly below an untrained generator
    assert distances[-1] < distances[0]  # and falling over training
    assert (out / "samples.png").is_file() and len(list((out / "samples").glob("epoch-*.png"))) == 2
    assert summary["label_accuracy"] > 0.2  # chance: 0.1; the default MNIST preset reaches far more


def _untrained_distance(run_dir):
    from advdl.data import load_dataset
    from advdl.plugin_manager import get_registry
    from advdl.run import build_model, read_run
    from advdl.scoring import scorer_for

    registry = get_registry()
    spec, run_config, algo_config = read_run(run_dir, registry)
    dataset = load_dataset("synthetic_mnist", registry)
    model, _ = build_model(spec, run_config, algo_config, registry, dataset)
    model.scorer = scorer_for(dataset, registry)
    return model.evaluate(dataset.x_test, dataset.y_test)["frechet_distance"]


def test_sample_writes_a_grid_and_arrays(cli, trained_cgan, tmp_path):
    out, _ = trained_cgan
    assert cli("sample", out, "--n", 12, "--label", 3, "--out", tmp_path / "s.npz").code == 0
    data = np.load(tmp_path / "s.npz")
    assert data["images"].shape == (12, 28, 28, 1) and data["images"].dtype == np.float32
    assert 0.0 <= data["images"].min() and data["images"].max() <= 1.0 and set(data["labels"]) == {3}
    assert cli("sample", out, "--n", 20, "--out", tmp_path / "s.png").code == 0
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_score_reports_distances_and_the_real_data_floor(cli, trained_cgan):
    out, _ = trained_cgan
    result = cli("score", out, "--n", 500, "--json")
    assert result.code == 0, str(result)
    scores = json.loads(result.out)
    assert {"frechet_distance", "kid", "classifier_score", "label_accuracy", "floor"} <= set(scores)
    assert scores["floor"]["frechet_distance"] < scores["frechet_distance"]


def test_bad_sample_requests_are_one_line_errors(cli, trained_cgan, tmp_path, finished_run):
    out, _ = trained_cgan
    assert_user_error(cli("sample", out, "--n", 0, "--out", tmp_path / "x.png"), "--n must be at least 1")
    assert_user_error(cli("sample", out, "--label", 10, "--out", tmp_path / "x.png"), "--label must be in 0..9")
    assert_user_error(cli("sample", out, "--out", tmp_path / "x.jpg"), ".png", ".npz")
    assert_user_error(cli("sample", finished_run, "--out", tmp_path / "x.png"), "generative model")


def test_label_for_an_unconditional_model_is_an_error(cli, tmp_path):
    out = tmp_path / "dcgan"
    run_algorithm("dcgan", "synthetic_mnist", out, epochs=1, batch_size=100)
    assert_user_error(cli("sample", out, "--label", 1, "--out", tmp_path / "x.png"), "unconditional")


def test_interrupted_gan_resumes_exactly(tmp_path):
    from test_supervised import StopAtBatch, _same_history

    from advdl.errors import RunInterrupted
    from advdl.plugin_manager import get_registry
    from advdl.run import resume

    settings = dict(epochs=2, batch_size=100, log_interval=5)  # 20 steps per epoch of synthetic digits
    full = run_algorithm("dcgan", "synthetic_mnist", tmp_path / "full", **settings)
    with pytest.raises(RunInterrupted):
        run_algorithm("dcgan", "synthetic_mnist", tmp_path / "cut", callbacks=[StopAtBatch(25)], **settings)
    resumed = resume(tmp_path / "cut", get_registry(), progress=False)
    assert _same_history(resumed, full) and resumed["frechet_distance"] == full["frechet_distance"]


def test_gradient_penalty_of_a_linear_critic_is_the_closed_form():
    import keras
    import tensorflow as tf
    from advdl_plugins.gan import WGANConfig
    from advdl_plugins.gan.gan import GAN

    from advdl.interfaces import DataInfo

    model = GAN(WGANConfig(gradient_penalty=10.0, clip_value=None), DataInfo("x", (28, 28, 1), 10), seed=0,
                total_steps=1)
    critic = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(1, use_bias=False)])
    weights = np.random.default_rng(0).normal(0, 0.05, (784, 1)).astype(np.float32)
    critic.set_weights([weights])
    model.discriminator = critic  # grad_x of w.x is w everywhere: the penalty is (|w| - 1)^2
    rng = np.random.default_rng(1)
    real, fake = (tf.constant(rng.uniform(0, 1, (8, 28, 28, 1)), tf.float32) for _ in range(2))
    mix = tf.constant(rng.uniform(0, 1, (8, 1, 1, 1)), tf.float32)
    penalty = float(model.gradient_penalty(real, fake, tf.zeros(8, tf.int64), mix))
    assert penalty == pytest.approx((np.linalg.norm(weights) - 1.0) ** 2, rel=1e-4)
    # and a compiled WGAN-GP step runs with it: finite losses
    model = GAN(WGANConfig(gradient_penalty=10.0, clip_value=None, critic_steps=2), DataInfo("x", (28, 28, 1), 10),
                seed=0, total_steps=1)
    images = np.random.default_rng(2).integers(0, 256, (16, 28, 28, 1), dtype=np.uint8)
    losses = model.train_step(images, np.zeros(16, np.int64))
    assert all(np.isfinite(v) for v in losses.values())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cgan", "acgan"])
def test_conditional_presets_reach_90_percent_label_accuracy(tmp_path, name):
    # the target on the offline MNIST split (this machine: cgan 96.8%, acgan 97.5%; 14-17 min each)
    from pathlib import Path

    data_dir = os.environ.get("ADVDL_DATA_DIR") or str(Path(__file__).resolve().parents[2] / "shared" / "data")
    summary = run_algorithm(name, "mnist", tmp_path, data_dir=data_dir)
    assert summary["label_accuracy"] >= 0.9
    assert summary["frechet_distance"] < 0.2 * summary["history"][0]["frechet_distance"]
