"""The precision choice on made-up devices, `advdl system --json`, and the classifier in every precision."""

import json

import numpy as np
import pytest

from advdl.api.devices import Gpu, choose_precision

H100, A100, V100, T4, K80 = (Gpu("H100", (9, 0)), Gpu("A100", (8, 0)), Gpu("V100", (7, 0)), Gpu("T4", (7, 5)),
                             Gpu("K80", (3, 7)))


@pytest.mark.parametrize("setting, gpus, cpu_bf16, policy", [
    ("auto", [H100], False, "mixed_bfloat16"),
    ("auto", [A100, A100], True, "mixed_bfloat16"),
    ("auto", [V100], True, "mixed_float16"),  # the CPU's bfloat16 does not matter once a GPU computes
    ("auto", [T4], False, "mixed_float16"),
    ("auto", [A100, T4], False, "mixed_float16"),  # the weakest GPU decides for a mirrored run
    ("auto", [K80], True, "float32"),
    ("auto", [Gpu("unknown")], True, "float32"),
    ("auto", [], True, "mixed_bfloat16"),
    ("auto", [], False, "float32"),
    ("float32", [H100], True, "float32"),
    ("bfloat16", [], False, "mixed_bfloat16"),
    ("mixed_float16", [], False, "mixed_float16"),
])
def test_auto_precision_follows_the_devices(setting, gpus, cpu_bf16, policy):
    chosen, why = choose_precision(setting, gpus, cpu_bf16)
    assert chosen == policy and why


def test_system_json_reports_devices_precision_xla_and_versions(cli):
    result = cli("system", "--json")
    assert result.code in (0, None), result
    facts = json.loads(result.out)
    assert isinstance(facts["devices"]["gpus"], list) and facts["devices"]["cpu"]["cores"] >= 1
    assert isinstance(facts["devices"]["cpu"]["flags"], list)
    assert set(facts["precision"]) == {"generative (GANs)", "supervised", "rl"}
    assert all(v["policy"] in ("float32", "mixed_bfloat16", "mixed_float16") for v in facts["precision"].values())
    assert facts["xla"]["device"] in ("cpu", "gpu") and facts["xla"]["steps"]["classifier_step"] is False
    for key in ("tensorflow", "keras", "cuda_build", "cudnn_build", "python"):
        assert key in facts["versions"]


@pytest.mark.parametrize("precision, compute", [("float32", "float32"), ("bfloat16", "bfloat16"),
                                                ("mixed_float16", "float16")])
def test_the_classifier_trains_in_every_precision_with_a_float32_softmax(precision, compute):
    import keras
    from advdl_plugins.supervised import CNNConfig
    from advdl_plugins.supervised.classifier import Classifier

    from advdl.api.interfaces import DataInfo

    model = Classifier(CNNConfig(precision=precision, batch_size=32), DataInfo("x", (28, 28, 1), 10), seed=0,
                       total_steps=4)
    convs = [layer for layer in model.network.layers if isinstance(layer, keras.layers.Conv2D)]
    assert {layer.compute_dtype for layer in convs} == {compute}
    assert model.network.layers[-1].compute_dtype == "float32"
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer) == (precision == "mixed_float16")
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 255, (32, 28, 28, 1)).astype(np.uint8), rng.integers(0, 10, 32)
    losses = [model.train_step(images, labels)["loss"] for _ in range(4)]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]  # it learns the batch
    probs = model.predict_proba(images)
    assert probs.dtype == np.float32 and np.allclose(probs.sum(axis=1), 1.0, atol=1e-3)
    # the global policy is back to float32 for whatever is built next
    assert keras.config.dtype_policy().name == "float32"


@pytest.mark.parametrize("name", ["cnn", pytest.param("autoencoder", marks=pytest.mark.slow)])  # the 8 minutes
def test_device_resident_batches_train_to_the_same_numbers(tmp_path, name):
    """device_data=on (the training set as tensors, each batch gathered there; what auto does on a GPU) trains
    exactly as the numpy batches do."""
    from advdl.testing import run_algorithm

    runs = [run_algorithm(name, "synthetic_mnist", tmp_path / mode, epochs=1, batch_size=256, device_data=mode)
            for mode in ("on", "off")]
    def numbers(summary):
        return {k: v for k, v in summary["history"][0].items() if "seconds" not in k and "per_second" not in k}

    assert numbers(runs[0]) == numbers(runs[1])


@pytest.mark.parametrize("name, precision, compute", [  # the other two in the slow set (the suite's 8 minutes)
    ("autoencoder", "bfloat16", "bfloat16"), ("vae", "mixed_float16", "float16"),
    pytest.param("autoencoder", "mixed_float16", "float16", marks=pytest.mark.slow),
    pytest.param("vae", "bfloat16", "bfloat16", marks=pytest.mark.slow)])
def test_autoencoders_train_in_mixed_precision_with_float32_outputs(name, precision, compute):
    import keras
    from advdl_plugins.autoencoder import AutoencoderConfig, VAEConfig
    from advdl_plugins.autoencoder.autoencoder import Autoencoder
    from advdl_plugins.autoencoder.vae import VAE

    from advdl.api.interfaces import DataInfo

    make = {"autoencoder": lambda: Autoencoder(AutoencoderConfig(precision=precision, batch_size=32),
                                               DataInfo("x", (28, 28, 1), 10), seed=0, total_steps=4),
            "vae": lambda: VAE(VAEConfig(precision=precision, batch_size=32, hidden_units=64),
                               DataInfo("x", (28, 28, 1), 10), seed=0, total_steps=4)}
    model = make[name]()
    dense = [layer for layer in model.decoder.layers if isinstance(layer, keras.layers.Dense)]
    assert {layer.compute_dtype for layer in dense} == {compute}
    assert all(out.dtype == "float32" for out in model.decoder.outputs + model.encoder.outputs)
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 255, (32, 28, 28, 1)).astype(np.uint8), rng.integers(0, 10, 32)
    losses = [model.train_step(images, labels)["loss"] for _ in range(4)]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    assert model.evaluate(images, labels) and keras.config.dtype_policy().name == "float32"
