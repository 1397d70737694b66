"""The supervised family: the book's networks at the book's sizes, learning on synthetic and offline
MNIST data, the run folder, `advdl eval`, exact resume, augmentation and clear errors."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from advdl.api.errors import ConfigError, RunInterrupted
from advdl.loading.manager import get_registry
from advdl.runs.start import resume
from advdl.testing import run_algorithm


def network(name, **overrides):
    from advdl_plugins import supervised
    from advdl_plugins.supervised.networks import build

    config = {"mlp": supervised.MLPConfig, "cnn": supervised.CNNConfig, "rnn": supervised.RNNConfig,
              "ynet": supervised.YNetConfig, "resnet": supervised.ResNetConfig,
              "densenet": supervised.DenseNetConfig}[name](**overrides)
    shape = (32, 32, 3) if name in ("resnet", "densenet") else (28, 28, 1)
    return build(config, shape, 10)


@pytest.mark.parametrize("name, parameters", [("mlp", 269_322), ("cnn", 80_266), ("rnn", 75_530)])
def test_book_parameter_counts_on_mnist(name, parameters):
    assert network(name).count_params() == parameters


def test_resnet20_v1_and_densenet_bc_100_have_the_book_sizes():
    assert network("resnet").count_params() == 274_442  # about 0.27 M
    assert 0.75e6 < network("densenet").count_params() < 0.85e6  # about 0.8 M
    assert network("resnet", version=2, depth=20).name == "resnet20_v2"


def test_ynet_has_a_dilated_branch():
    convs = [layer for layer in network("ynet").layers if type(layer).__name__ == "Conv2D"]
    assert sorted({c.dilation_rate for c in convs}) == [(1, 1), (2, 2)] and len(convs) == 6


def test_invalid_depths_are_config_errors():
    from advdl_plugins.supervised import DenseNetConfig, ResNetConfig

    with pytest.raises(ConfigError, match="9n\\+2"):
        ResNetConfig(version=2, depth=32)
    with pytest.raises(ConfigError, match="6n\\+2"):
        ResNetConfig(depth=21)
    with pytest.raises(ConfigError, match="6n\\+4"):
        DenseNetConfig(depth=99)


def test_book_learning_rate_schedule():
    from advdl_plugins.supervised.classifier import book_learning_rate

    assert [book_learning_rate(1e-3, e) for e in (0, 80, 81, 121, 161, 181)] == pytest.approx(
        [1e-3, 1e-3, 1e-4, 1e-5, 1e-6, 5e-7])


def test_shift_augmentation_moves_each_image_by_its_own_offset():
    import tensorflow as tf
    from advdl_plugins.supervised import CNNConfig
    from advdl_plugins.supervised.classifier import Classifier

    from advdl.api.interfaces import DataInfo

    model = Classifier(CNNConfig(augment_shift=0.1, augment_flip=True), DataInfo("x", (28, 28, 1), 10),
                       seed=0, total_steps=1)
    images = np.zeros((64, 28, 28, 1), np.float32)
    images[:, 14, 14] = 1.0  # one bright pixel in the middle
    moved = model._augment(tf.constant(images)).numpy()
    positions = {tuple(np.argwhere(m[..., 0])[0]) for m in moved}
    assert moved.shape == images.shape and moved.sum() == 64  # nothing lost at a shift of 3 pixels
    # shifted by up to 3 pixels each way; a flip mirrors column 14 to 13
    assert len(positions) > 10 and all(abs(r - 14) <= 3 and 10 <= c <= 17 for r, c in positions)


def test_mlp_learns_synthetic_digits_and_writes_the_run_folder(tmp_path, capsys):
    from advdl.commands.main import main

    summary = run_algorithm("mlp", "synthetic_mnist", tmp_path / "run", epochs=2)
    assert summary["test_accuracy"] >= 0.9 and summary["parameters"] == 269_322  # chance: 0.1
    assert len(summary["history"]) == 2 and summary["steps"] == 2 * 16  # 2,000 images in batches of 128
    names = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"config.yaml", "summary.json", "metrics.csv", "epochs.csv", "model.keras", "confusion_matrix.png",
            "learning_curves.png", "tensorboard", "checkpoints"} <= names
    main(["eval", str(tmp_path / "run"), "--json"])
    reported = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert reported["test_accuracy"] == pytest.approx(summary["test_accuracy"])
    with pytest.raises(SystemExit):
        main(["eval", str(tmp_path / "run"), "--record", str(tmp_path / "x.gif")])
    assert "--record animates an RL episode" in capsys.readouterr().err


class StopAtBatch:
    """Does what Ctrl-C does (request a stop) once a given batch is logged."""

    def __init__(self, step):
        self.step = step

    def on_log(self, trainer, row):
        if trainer.step >= self.step:
            trainer.request_stop()


def test_interrupted_cnn_resumes_exactly(tmp_path):
    settings = dict(epochs=2, log_interval=5, augment_shift=0.1, filters=16)
    full = run_algorithm("cnn", "synthetic_mnist", tmp_path / "full", **settings)
    with pytest.raises(RunInterrupted):
        run_algorithm("cnn", "synthetic_mnist", tmp_path / "cut", callbacks=[StopAtBatch(10)], **settings)
    resumed = resume(tmp_path / "cut", get_registry(), progress=False)
    assert _same_history(resumed, full)
    assert resumed["test_accuracy"] == full["test_accuracy"] and resumed["test_loss"] == full["test_loss"]
    rows = [(tmp_path / run / "metrics.csv").read_text().count("\n") for run in ("cut", "full")]
    assert rows[0] == rows[1]  # no row lost or repeated across the cut


def _same_history(a, b):
    drop = ("wall_seconds", "images_per_second")
    return [{k: v for k, v in r.items() if k not in drop} for r in a["history"]] == \
        [{k: v for k, v in r.items() if k not in drop} for r in b["history"]]


@pytest.mark.parametrize("name, settings", [
    ("resnet", {"depth": 8, "lr_schedule": "constant", "batch_size": 64}),
    ("densenet", {"depth": 10, "dropout": 0.0, "lr_schedule": "constant", "optimizer": "adam", "learning_rate": 3e-3}),
])
@pytest.mark.slow  # a learning or multi-process run: the default suite stays under 8 minutes
def test_resnet_and_densenet_learn_synthetic_cifar(tmp_path, name, settings):
    # no augmentation: the synthetic classes are pixel patterns, not shift-invariant objects
    summary = run_algorithm(name, "synthetic_cifar", tmp_path, epochs=3, augment_shift=0.0, augment_flip=False,
                            **settings)
    first, last = summary["history"][0], summary["history"][-1]
    # training accuracy: after a few dozen steps BatchNorm's moving averages (used at test time) lag behind
    assert last["accuracy"] >= 0.6 and last["loss"] < first["loss"]  # chance: 0.1


def test_bad_dataset_names_and_missing_data_are_one_line_errors(tmp_path, capsys):
    from advdl.commands.main import main

    for argv, expected in ((["run", "cnn", "--data", "mnsit"], "Did you mean 'mnist'"),
                           (["run", "cnn"], "no dataset given"),
                           (["run", "resnet", "--data", "synthetic_cifar", "--depth", "21"], "6n+2")):
        with pytest.raises(SystemExit) as done:
            main([*argv, "--out", str(tmp_path / "x")])
        err = capsys.readouterr().err
        assert done.value.code == 2 and expected in err and "Traceback" not in err


MNIST_TARGETS = {"cnn": 0.985, "mlp": 0.960, "rnn": 0.950, "ynet": 0.985}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MNIST_TARGETS))
def test_offline_mnist_accuracy_within_three_minutes(tmp_path, name):
    # the offline MNIST test set (../shared/data beside the project, or ADVDL_DATA_DIR)
    data_dir = os.environ.get("ADVDL_DATA_DIR") or str(Path(__file__).resolve().parents[2] / "shared" / "data")
    summary = run_algorithm(name, "mnist", tmp_path, data_dir=data_dir)
    assert summary["train_images"] == 8000 and summary["test_images"] == 2000
    assert summary["test_accuracy"] >= MNIST_TARGETS[name]
    assert summary["wall_seconds"] < 180
