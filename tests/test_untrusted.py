"""Untrusted files: a run folder from someone else never runs code when advdl loads it.

Each test plants a malicious file of one kind (checkpoint, environment snapshot, config, Keras
model, numpy array), whose payload would create a marker file, then loads the folder through the
CLI: a clear one-line error, and no marker.
"""

import hashlib
import os
import pickle
import shutil

import numpy as np
import pytest
from conftest import assert_user_error

from advdl import checkpoint, safe_pickle


class Planted:
    """Unpickling this calls ``os.system``: it creates the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture
def unfinished_run(cli, tmp_path):
    """An interrupted-like Q-learning run: config.yaml and a checkpoint, no summary (resumable)."""
    out = tmp_path / "run"
    assert cli("run", "qlearning", "--env", "advdl/QWorld-v0", "--steps", 300, "--out", out, "--no-progress").code == 0
    (out / "summary.json").unlink()
    return out


def only_checkpoint(run):
    found = checkpoint.list_checkpoints(run / "checkpoints")
    for extra in found[:-1]:
        extra.unlink()
    return found[-1]


def test_a_pickle_checkpoint_is_refused_not_unpickled(cli, unfinished_run, tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"env_steps": 1, "agent": Planted(marker)})
    only_checkpoint(unfinished_run).write_bytes(checkpoint.OLD_MAGIC + hashlib.sha256(payload).digest() + payload)
    assert_user_error(cli("run", "--resume", unfinished_run), "pickle format", "not loaded")
    assert not marker.exists()


def test_a_planted_environment_snapshot_is_refused(cli, unfinished_run, tmp_path):
    """The checksum is no defence (anyone can compute it): the snapshot loader must refuse the call."""
    marker = tmp_path / "pwned"
    path = only_checkpoint(unfinished_run)
    state = checkpoint.load(path)
    state["env"] = [pickle.dumps(Planted(marker))]
    path.unlink()
    checkpoint.save(unfinished_run / "checkpoints", state["env_steps"], state)
    assert_user_error(cli("run", "--resume", unfinished_run), "environment snapshot was not loaded", "posix.system")
    assert not marker.exists()


def test_the_trust_switch_unpickles_the_snapshot_as_it_is(monkeypatch, tmp_path):
    from advdl.vector import load_envs

    monkeypatch.setenv("ADVDL_TRUST_CHECKPOINTS", "1")
    load_envs([pickle.dumps(Planted(tmp_path / "trusted"))], ())
    assert (tmp_path / "trusted").exists()  # the switch is real: only for run folders you trust


def test_a_checkpoint_holds_no_pickle(unfinished_run):
    """Arrays and bytes are npz members read with allow_pickle=False; the structure is JSON."""
    path = only_checkpoint(unfinished_run)
    state = checkpoint.load(path)
    assert isinstance(state["replay"] or state["agent"], dict) and isinstance(state["env"][0], bytes)
    assert any(isinstance(v, np.ndarray) for v in state["agent"].values())
    assert b"\x80\x04" not in path.read_bytes()[:64]  # no pickle protocol header up front
    # a round trip keeps types: tuples, numpy scalars, big ints (RNG states), non-string keys
    value = {"t": (1, 2.5), "s": np.float32(1.5), "big": 2**100, "k": {3: "x"}, "n": None, "b": b"\x00\x01"}
    assert checkpoint.decode(checkpoint.encode(value)) == value
    assert isinstance(checkpoint.decode(checkpoint.encode(value))["s"], np.float32)
    with pytest.raises(TypeError):
        checkpoint.encode({"object": object()})


def test_safe_pickle_restores_environments_but_refuses_callables():
    import gymnasium as gym

    env = gym.make("CartPole-v1")
    env.reset(seed=3)
    restored = safe_pickle.loads(pickle.dumps(env))
    assert np.array_equal(restored.unwrapped.state, env.unwrapped.state)
    assert restored.step(0)[0].tolist() == env.step(0)[0].tolist()  # the RNG and the dynamics came along
    for planted in (Planted("x"), np.memmap, eval, shutil.rmtree):
        with pytest.raises(safe_pickle.UnsafePickleError):
            safe_pickle.loads(pickle.dumps(planted))


def test_a_yaml_config_with_python_tags_is_refused(cli, unfinished_run, tmp_path):
    marker = tmp_path / "pwned"
    config = unfinished_run / "config.yaml"
    config.write_text(f"!!python/object/apply:os.system ['touch {marker}']\n")
    assert_user_error(cli("run", "--resume", unfinished_run), "malformed config file")
    assert_user_error(cli("eval", unfinished_run), "malformed config file")
    other = tmp_path / "settings.yaml"
    other.write_text(f"steps: !!python/object/apply:os.system ['touch {marker}']\n")
    assert_user_error(cli("run", "qlearning", "--env", "advdl/QWorld-v0", "--config", other), "malformed config file")
    assert not marker.exists()


def test_a_numpy_model_with_pickled_objects_is_refused(cli, tmp_path):
    marker = tmp_path / "pwned"
    out = tmp_path / "run"
    assert cli("run", "qlearning", "--env", "advdl/QWorld-v0", "--steps", 300, "--out", out, "--no-progress").code == 0
    np.savez(out / "model.npz", q_table=np.array([Planted(marker)], dtype=object))
    assert_user_error(cli("eval", out), "cannot read Q-table")
    assert not marker.exists()


def test_a_keras_model_with_lambda_code_is_refused(cli, tmp_path):
    import keras

    marker = tmp_path / "pwned"
    out = tmp_path / "run"
    assert cli("run", "mlp", "--data", "synthetic_mnist", "--epochs", 1, "--out", out, "--no-progress").code == 0
    inputs = keras.Input((28, 28, 1))
    code = eval(f"lambda t: (open({str(marker)!r}, 'w').close(), t)[1]")  # no closure: Keras serialises its bytecode
    x = keras.layers.Lambda(code)(inputs)
    planted = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(x)))
    planted.save(out / "model.keras")
    assert marker.exists()  # building the model ran the lambda once: the payload works
    marker.unlink()
    assert_user_error(cli("eval", out), "cannot load model", "Lambda")
    assert not marker.exists()


@pytest.mark.parametrize("switch", [{"ADVDL_BLOCK_PLUGINS": "evil"}, {"ADVDL_PLUGINS": "advdl"}])
def test_the_plugin_switches_keep_a_plugin_from_being_imported(tmp_path, switch):
    """Plugins are code: the switches are how a user keeps one from running at all."""
    from conftest import make_distribution, run_advdl

    marker = tmp_path / "imported"
    make_distribution(tmp_path / "site", "evil-dist", "1.0", {"evil": "evil_plugin"},
                      {"evil_plugin": f"open({str(marker)!r}, 'w').close()\n"})
    assert run_advdl("list", cwd=tmp_path, pythonpath=tmp_path / "site").code == 0
    assert marker.exists()  # without a switch the plugin's module runs: plugins are code
    marker.unlink()
    result = run_advdl("list", "--json", cwd=tmp_path, pythonpath=tmp_path / "site", env=switch)
    assert result.code == 0 and '"qlearning"' in result.out
    assert not marker.exists()
