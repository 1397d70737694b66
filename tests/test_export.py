"""advdl export: every format for one model of each family, verified in its own runtime against the Keras
model; advdl eval --model on an exported policy; clear errors for what cannot be exported."""

import json

import numpy as np
import pytest
from conftest import assert_user_error

from advdl.testing import run_algorithm

pytestmark = pytest.mark.usefixtures("scorer_cache")
FORMATS = ("onnx", "tflite", "savedmodel")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One short run of each family's representative (the weights need not be good: the files must compute
    what the Keras models do): dqn, continuous a2c, cnn, cgan, autoencoder."""
    root = tmp_path_factory.mktemp("export")
    made = {}

    def made_run(name, target, **settings):
        if name not in made:
            out = root / name
            run_algorithm(name, target, out, **settings)
            made[name] = out
        return made[name]

    return made_run


RUNS = {
    "dqn": ("CartPole-v1", dict(steps=1500, learning_starts=500, eval_interval=0, final_eval_episodes=2)),
    "a2c": ("Pendulum-v1", dict(steps=2000, eval_interval=0, final_eval_episodes=2)),  # its preset: normalised obs
    "cnn": ("synthetic_mnist", dict(epochs=1, batch_size=256)),
    "cgan": ("synthetic_mnist", dict(epochs=1, batch_size=100)),
    "autoencoder": ("synthetic_mnist", dict(epochs=1, batch_size=256)),
}
PARTS = {"dqn": ["policy"], "a2c": ["policy"], "cnn": ["classifier"], "cgan": ["generator"],
         "autoencoder": ["encoder", "decoder", "autoencoder"]}


# the default suite: every format for dqn, ONNX (tf2onnx, the converter most apt to differ) for the cnn and the cgan
# (a2c's policy is exported by the eval test below, the autoencoder's parts by the error test); the rest of the
# matrix in the slow set (the suite's 8 minutes)
DEFAULT = {("dqn", "onnx"), ("dqn", "tflite"), ("dqn", "savedmodel"), ("cnn", "onnx")}
MATRIX = [pytest.param(a, f, marks=() if (a, f) in DEFAULT else pytest.mark.slow) for a in RUNS for f in FORMATS]


@pytest.mark.parametrize("algorithm, fmt", MATRIX)
def test_every_format_reproduces_the_keras_model(runs, cli, tmp_path, algorithm, fmt):
    run_dir = runs(algorithm, RUNS[algorithm][0], **RUNS[algorithm][1])
    out = tmp_path / "export"
    result = cli("export", str(run_dir), "--format", fmt, "--out", str(out), "--json")
    assert result.code in (0, None), result
    records = json.loads(result.out)
    assert [r["part"] for r in records] == PARTS[algorithm]
    for record in records:
        assert record["max_difference"] <= 1e-4, record
        assert record["bytes"] > 1000
        assert (out / record["path"].rsplit("/", 1)[-1]).exists() or len(records) == 1
        if algorithm in ("dqn", "a2c"):  # the exported policy takes the agent's own actions on a real episode
            assert record["actions_agree"] == "300/300"


def test_the_exported_policy_scores_what_the_run_scores(runs, cli, tmp_path):
    """advdl eval --model runs the exported file alone (onnxruntime, no Keras model) on the run's env."""
    run_dir = runs("a2c", *RUNS["a2c"][:1], **RUNS["a2c"][1])
    cli("export", str(run_dir), "--format", "onnx", "--out", str(tmp_path / "policy.onnx"))
    exported = json.loads(cli("eval", str(run_dir), "--model", str(tmp_path / "policy.onnx"), "--episodes", "3",
                              "--json").out)
    own = json.loads(cli("eval", str(run_dir), "--episodes", "3", "--json").out)
    assert exported["mean"] == pytest.approx(own["mean"], abs=1e-3)
    assert exported["format"] == "onnx"


def test_an_exported_policy_runs_with_onnxruntime_and_numpy_only(runs, tmp_path):
    """The README's example: nothing of advdl or TensorFlow in the loop."""
    import gymnasium as gym
    import onnxruntime

    from advdl.loading.manager import get_registry
    from advdl.runs.export import export_run

    run_dir = runs("dqn", RUNS["dqn"][0], **RUNS["dqn"][1])
    export_run(run_dir, get_registry(), "onnx", out=tmp_path / "cartpole.onnx", report=lambda line: None)
    session = onnxruntime.InferenceSession(str(tmp_path / "cartpole.onnx"))
    env = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=0)
    action = session.run(None, {"obs": obs[None].astype(np.float32)})[0][0]
    assert action in (0, 1)


def test_export_errors_are_one_line(runs, cli, tmp_path):
    run_dir = runs("autoencoder", RUNS["autoencoder"][0], **RUNS["autoencoder"][1])
    assert_user_error(cli("export", str(run_dir), "--part", "encodr"), "did you mean 'encoder'")
    out = tmp_path / "enc.onnx"
    out.write_text("mine")
    assert_user_error(cli("export", str(run_dir), "--part", "encoder", "--out", str(out)), "exists", "--force")
    assert out.read_text() == "mine"  # nothing replaced
    exported = cli("export", str(run_dir), "--part", "decoder", "--out", str(tmp_path / "dec.onnx"), "--json")
    assert exported.code in (0, None) and json.loads(exported.out)[0]["max_difference"] <= 1e-4, exported
    assert_user_error(cli("export", str(tmp_path / "nothing")), "run folder not found")
    assert_user_error(cli("export", str(run_dir), "--format", "pickle"), "pickle")
    (tmp_path / "bad.onnx").write_bytes(b"\x00garbage")
    dqn = runs("dqn", RUNS["dqn"][0], **RUNS["dqn"][1])
    assert_user_error(cli("eval", str(dqn), "--model", str(tmp_path / "bad.onnx")), "cannot load")
    assert_user_error(cli("eval", str(dqn), "--model", str(tmp_path / "missing.onnx")), "not found")
    assert_user_error(cli("eval", str(run_dir), "--model", str(tmp_path / "bad.onnx")), "RL run")


def test_a_missing_converter_is_one_line_naming_the_extra(runs, cli, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tf2onnx" else real(name, *a))
    run_dir = runs("dqn", RUNS["dqn"][0], **RUNS["dqn"][1])
    assert_user_error(cli("export", str(run_dir), "--format", "onnx"), "needs tf2onnx", "advdl[onnx]")


def test_an_algorithm_without_export_says_so(cli, tmp_path):
    """A third-party agent that defines no export_parts: one line naming it."""
    from advdl.runs.family import export_parts_of

    class Spec:
        name, distribution, plugin = "fancy", "fancy-dist", "fancy"

    class Learner:
        def export_parts(self, *args):
            raise NotImplementedError

    from advdl.api import ConfigError

    with pytest.raises(ConfigError, match="'fancy' has no export: its plugin \\(fancy-dist\\)"):
        export_parts_of(Spec(), Learner(), np.zeros((1, 4)))


EVERY_OTHER = {  # every built-in algorithm beyond the five above, in short runs (the slow set: ~4 minutes)
    "qlearning": ("FrozenLake-v1", dict(steps=2000), ["policy"]),
    "ddqn": ("CartPole-v1", dict(steps=1000, learning_starts=500, eval_interval=0, final_eval_episodes=1), ["policy"]),
    "dqn-taxi": ("Taxi-v4", dict(steps=1000, learning_starts=500, eval_interval=0, final_eval_episodes=1), ["policy"]),
    "dqn-pixels": ("advdl/PixelGrid-v0", dict(steps=600, learning_starts=500, eval_interval=0, final_eval_episodes=1),
                   ["policy"]),
    "reinforce": ("CartPole-v1", dict(steps=1000, eval_interval=0, final_eval_episodes=1), ["policy"]),
    "reinforce-baseline": ("MountainCarContinuous-v0", dict(steps=1000, eval_interval=0, final_eval_episodes=1),
                           ["policy"]),
    "actor-critic": ("Acrobot-v1", dict(steps=1000, eval_interval=0, final_eval_episodes=1), ["policy"]),
    "a2c-book": ("MountainCarContinuous-v0", dict(steps=1000, preset="book", eval_interval=0, final_eval_episodes=1),
                 ["policy"]),
    "mlp": ("synthetic_mnist", dict(epochs=1), ["classifier"]),
    "rnn": ("synthetic_mnist", dict(epochs=1), ["classifier"]),
    "ynet": ("synthetic_mnist", dict(epochs=1), ["classifier"]),
    "resnet": ("synthetic_cifar", dict(epochs=1, depth=8), ["classifier"]),
    "densenet": ("synthetic_cifar", dict(epochs=1, depth=10), ["classifier"]),
    "dcgan": ("synthetic_mnist", dict(epochs=1), ["generator"]),
    "acgan": ("synthetic_mnist", dict(epochs=1), ["generator"]),
    "wgan": ("synthetic_mnist", dict(epochs=1), ["generator"]),
    "infogan": ("synthetic_mnist", dict(epochs=1), ["generator"]),
    "stackedgan": ("synthetic_mnist", dict(epochs=2, encoder_steps=20), ["generator", "encoder"]),
    "cyclegan": ("synthetic_mnist", dict(epochs=1, data_b="synthetic_cifar", resize=True), ["a2b", "b2a"]),
    "dae": ("synthetic_mnist", dict(epochs=1), ["encoder", "decoder", "autoencoder"]),
    "colorization": ("synthetic_cifar", dict(epochs=1), ["encoder", "decoder", "autoencoder"]),
    "vae": ("synthetic_mnist", dict(epochs=1, network="cnn"), ["encoder", "decoder"]),
    "cvae": ("synthetic_mnist", dict(epochs=1), ["encoder", "decoder"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(EVERY_OTHER))
def test_every_other_algorithm_exports_faithfully(cli, tmp_path, case):
    target, settings, parts = EVERY_OTHER[case]
    algorithm = {"dqn-taxi": "dqn", "dqn-pixels": "dqn", "a2c-book": "a2c"}.get(case, case)
    settings = dict(settings)
    preset = settings.pop("preset", None)
    run_algorithm(algorithm, target, tmp_path / "run", preset=preset, **settings)
    for fmt in ("onnx", "tflite"):
        result = cli("export", str(tmp_path / "run"), "--format", fmt, "--out", str(tmp_path / fmt), "--json")
        assert result.code in (0, None), result
        records = json.loads(result.out)
        assert [r["part"] for r in records] == parts
        assert all(r["max_difference"] <= 1e-4 for r in records), records
        assert all(r.get("actions_agree", "1/1").split("/")[0] == r.get("actions_agree", "1/1").split("/")[1]
                   for r in records)
