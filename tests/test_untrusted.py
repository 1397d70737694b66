"""Untrusted files: a run folder from someone else never runs code when advdl loads it.

Each test plants a malicious file of one kind (checkpoint, environment snapshot, config, Keras
model, numpy array), whose payload would create a marker file, then loads the folder through the
CLI: a clear one-line error (for a pickled environment snapshot: one line saying the episodes in
progress restart), and no marker.
"""

import hashlib
import os
import pickle

import numpy as np
import pytest
from conftest import assert_user_error

from advdl.runs import checkpoint


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


def plant_env_snapshot(run, snapshot):
    """Replace the checkpoint's environment snapshot, with a valid checksum (anyone can compute it)."""
    path = only_checkpoint(run)
    state = checkpoint.load(path)
    state["env"] = snapshot
    path.unlink()
    checkpoint.save(run / "checkpoints", state["env_steps"], state)
    return state


def test_a_planted_pickle_snapshot_is_not_unpickled_and_the_episodes_restart(cli, unfinished_run, tmp_path):
    marker = tmp_path / "pwned"
    plant_env_snapshot(unfinished_run, [pickle.dumps(Planted(marker))])
    result = cli("run", "--resume", unfinished_run, "--steps", 400, "--no-progress")
    assert result.code == 0, str(result)
    assert "environment snapshot is in the pickle format" in result.err and "ADVDL_TRUST_CHECKPOINTS=1" in result.err
    assert "episodes in progress restart" in result.err
    assert not marker.exists()


def make_and_touch(marker):
    """What unpickling TrustedPayload calls: it creates the marker and returns the run's environment."""
    from advdl.loading.manager import get_registry
    from advdl.rl.environments import make_env

    open(marker, "w").close()
    env = make_env("advdl/QWorld-v0", get_registry())
    env.reset(seed=0)
    return env


class TrustedPayload(Planted):
    def __reduce__(self):
        return make_and_touch, (self.marker,)


def test_the_trust_switch_unpickles_the_snapshot_as_it_is(cli, unfinished_run, tmp_path, monkeypatch):
    marker = tmp_path / "unpickled"
    plant_env_snapshot(unfinished_run, [pickle.dumps(TrustedPayload(marker))])
    monkeypatch.setenv("ADVDL_TRUST_CHECKPOINTS", "1")
    result = cli("run", "--resume", unfinished_run, "--steps", 400, "--no-progress")
    assert result.code == 0, str(result)
    assert marker.exists() and "pickle format" not in result.err  # the switch is real: only for folders you trust


def test_a_planted_environment_state_is_one_line_and_runs_nothing(cli, unfinished_run):
    env = checkpoint.load(only_checkpoint(unfinished_run))["env"][0]
    env["layers"][-1]["class"] = "os.system"
    plant_env_snapshot(unfinished_run, [env])
    assert_user_error(cli("run", "--resume", unfinished_run), "environment", "does not fit this run")


def test_a_checkpoint_holds_no_pickle(unfinished_run):
    """Arrays are npz members read with allow_pickle=False; the structure is JSON; the environments
    are plain data (no bytes anywhere in them)."""
    path = only_checkpoint(unfinished_run)
    state = checkpoint.load(path)
    assert isinstance(state["replay"] or state["agent"], dict)
    assert state["env"][0]["layers"][-1]["class"].endswith(".QWorldEnv")
    assert not any(isinstance(v, bytes) for v in leaves(state["env"]))
    assert any(isinstance(v, np.ndarray) for v in state["agent"].values())
    assert b"\x80\x04" not in path.read_bytes()[:64]  # no pickle protocol header up front
    # a round trip keeps types: tuples, numpy scalars, big ints (RNG states), non-string keys
    value = {"t": (1, 2.5), "s": np.float32(1.5), "big": 2**100, "k": {3: "x"}, "n": None, "b": b"\x00\x01"}
    assert checkpoint.decode(checkpoint.encode(value)) == value
    assert isinstance(checkpoint.decode(checkpoint.encode(value))["s"], np.float32)
    with pytest.raises(TypeError):
        checkpoint.encode({"object": object()})


def leaves(value):
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from leaves(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from leaves(v)
    else:
        yield value


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
