"""Autoencoders and VAEs: they learn (reconstruction errors, ELBO), the DAE denoises, beta trades
reconstruction for KL, the CVAE generates asked labels, figures, resume, clear errors."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_user_error

from advdl.testing import run_algorithm

SHARED_DATA = os.environ.get("ADVDL_DATA_DIR") or str(Path(__file__).resolve().parents[2] / "shared" / "data")


pytestmark = pytest.mark.usefixtures("scorer_cache")  # one scorer cache per session: each classifier trains once


def test_autoencoder_learns_to_reconstruct_and_plots_its_2d_latent(tmp_path):
    summary = run_algorithm("autoencoder", "synthetic_mnist", tmp_path, epochs=2, latent_dim=2)
    history = summary["history"]
    assert history[-1]["test_mse"] < history[0]["test_mse"] and summary["test_mse"] < 0.06
    assert {"reconstructions.png", "latent.png", "autoencoder.keras"} <= {p.name for p in tmp_path.iterdir()}


def test_dae_output_is_closer_to_the_clean_digit_than_its_input(tmp_path):
    summary = run_algorithm("dae", "synthetic_mnist", tmp_path, epochs=2)
    assert summary["test_mse"] < 0.5 * summary["input_mse"]  # it removes most of the noise
    assert (tmp_path / "noise_levels.png").is_file()


@pytest.mark.slow  # a learning or multi-process run: the default suite stays under 8 minutes
@pytest.mark.skipif(not (Path(SHARED_DATA) / "mnist").is_dir(), reason="the shared MNIST test set is not there")
def test_colorization_learns_each_digits_colour(tmp_path):
    summary = run_algorithm("colorization", "tinted_mnist", tmp_path, epochs=3, data_dir=SHARED_DATA,
                            filters=(16, 32, 64), latent_dim=64)  # 10 s
    assert summary["test_mse"] < 0.6 * summary["input_mse"]  # far closer than the grey image (here 0.51x)
    assert (tmp_path / "reconstructions.png").is_file()


def test_colorization_needs_colour_data(cli, tmp_path):
    assert_user_error(cli("run", "colorization", "--data", "synthetic_mnist", "--out", tmp_path / "g"),
                      "is grey", "tinted_mnist")


def test_autoencoders_do_not_sample(cli, tmp_path):
    run_algorithm("autoencoder", "synthetic_mnist", tmp_path / "ae", epochs=1, batch_size=500)
    assert_user_error(cli("sample", tmp_path / "ae", "--out", tmp_path / "x.png"), "do not sample")


@pytest.fixture(scope="module")
def trained_cvae(tmp_path_factory):
    out = tmp_path_factory.mktemp("cvae") / "run"
    return out, run_algorithm("cvae", "synthetic_mnist", out, epochs=4, batch_size=64)


@pytest.mark.slow  # a learning or multi-process run: the default suite stays under 8 minutes
def test_cvae_learns_and_generates_the_asked_labels(cli, trained_cvae, tmp_path):
    out, summary = trained_cvae
    history = summary["history"]
    assert history[-1]["test_elbo"] > history[0]["test_elbo"]
    assert summary["label_accuracy"] > 0.8
    assert {"samples.png", "reconstructions.png", "latent.png", "manifold-3.png", "decoder.keras",
            "encoder.keras"} <= {p.name for p in out.iterdir()}
    assert cli("sample", out, "--n", 6, "--label", 7, "--out", tmp_path / "s.npz").code == 0
    data = np.load(tmp_path / "s.npz")
    assert data["images"].shape == (6, 28, 28, 1) and set(data["labels"]) == {7}
    scores = json.loads(cli("score", out, "--n", 300, "--json").out)
    assert scores["label_accuracy"] > 0.8


@pytest.mark.slow  # a learning or multi-process run: the default suite stays under 8 minutes
def test_larger_beta_trades_reconstruction_for_a_smaller_kl(tmp_path):
    # unconditional: on synthetic digits the label alone nearly fixes the image, and a conditional
    # model's KL collapses to about 0.005 whatever beta is
    runs = {beta: run_algorithm("beta-vae", "synthetic_mnist", tmp_path / str(beta), epochs=2, beta=beta,
                                conditional=False, batch_size=64) for beta in (1.0, 10.0)}
    assert runs[10.0]["test_kl"] < runs[1.0]["test_kl"]
    assert runs[10.0]["test_reconstruction"] > runs[1.0]["test_reconstruction"]


@pytest.mark.parametrize("network", ["mlp", pytest.param("cnn", marks=pytest.mark.slow)])  # the suite's 8 minutes
def test_vae_mlp_and_cnn_report_the_elbo_and_label_for_an_unconditional_vae_is_an_error(cli, tmp_path, network):
    summary = run_algorithm("vae", "synthetic_mnist", tmp_path / network, epochs=2, network=network,
                            reconstruction="mse" if network == "cnn" else "bce")
    assert summary["test_elbo"] == pytest.approx(-(summary["test_reconstruction"] + summary["test_kl"]))
    assert summary["history"][-1]["test_elbo"] > summary["history"][0]["test_elbo"]
    if network == "mlp":
        assert (tmp_path / "mlp" / "manifold.png").is_file()
    assert_user_error(cli("sample", tmp_path / network, "--label", 2, "--out", tmp_path / "x.png"), "unconditional")


# their RNGs: the corruption, the reparameterisation noise
@pytest.mark.parametrize("name", ["dae", pytest.param("cvae", marks=pytest.mark.slow)])
def test_interrupted_runs_resume_exactly(tmp_path, name):
    from test_supervised import StopAtBatch, _same_history

    from advdl.api.errors import RunInterrupted
    from advdl.loading.manager import get_registry
    from advdl.runs.start import resume

    settings = dict(epochs=2, batch_size=100, log_interval=5)  # 20 steps per epoch
    if name == "dae":  # the width does not touch the RNGs; a narrow one keeps the default suite short
        settings["filters"] = (8, 16)
    full = run_algorithm(name, "synthetic_mnist", tmp_path / "full", **settings)
    with pytest.raises(RunInterrupted):
        run_algorithm(name, "synthetic_mnist", tmp_path / "cut", callbacks=[StopAtBatch(25)], **settings)
    resumed = resume(tmp_path / "cut", get_registry(), progress=False)
    assert _same_history(resumed, full)


def test_settings_are_checked(cli):
    assert_user_error(cli("run", "vae", "--data", "synthetic_mnist", "--set", "beta=0"), "beta must be > 0")
    assert_user_error(cli("run", "dae", "--data", "synthetic_mnist", "--set", "noise_std=-1"), "noise_std must be >= 0")
    assert_user_error(cli("run", "autoencoder", "--data", "synthetic_mnist", "--set", "filters=0"), "filters must be")


@pytest.mark.slow
@pytest.mark.parametrize("name, metric, target", [("autoencoder", "test_mse", 0.012), ("dae", "test_mse", 0.03)])
def test_autoencoder_presets_reach_their_targets(tmp_path, name, metric, target):
    summary = run_algorithm(name, "mnist", tmp_path, data_dir=SHARED_DATA)
    assert summary[metric] <= target


@pytest.mark.slow
def test_cvae_preset_reaches_90_percent_label_accuracy(tmp_path):
    summary = run_algorithm("cvae", "mnist", tmp_path, data_dir=SHARED_DATA)
    assert summary["label_accuracy"] >= 0.9
