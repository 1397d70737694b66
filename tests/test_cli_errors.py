"""Every user mistake is one ``Error: ...`` line on stderr, a non-zero exit code, no traceback.

Most tests call ``advdl.cli.main`` in-process (the ``cli`` fixture of conftest.py); an exception
escaping ``main`` fails the test, since a user would see it as a traceback. None of these cases
needs TensorFlow: validation happens before an agent is built.
"""

import json
import subprocess
import sys

import pytest
from conftest import assert_user_error, subprocess_env

CARTPOLE = ("--env", "CartPole-v1")


# -- unknown names -----------------------------------------------------------------------------------
def test_unknown_algorithm_suggests_the_closest(cli):
    assert_user_error(cli("run", "dqm", *CARTPOLE), "dqm", "Did you mean 'dqn'")


def test_unknown_env_suggests_the_closest(cli):
    assert_user_error(cli("run", "dqn", "--env", "CartPol-v1", "--out", "out"), "CartPol-v1", "CartPole-v1")


@pytest.mark.parametrize("name, hint", [("nosuch", "advdl list"), ("dqm", "Did you mean 'dqn'")])
def test_info_of_an_unknown_algorithm(cli, name, hint):
    assert_user_error(cli("info", name), f"'{name}'", hint)


def test_unknown_preset_suggests_the_closest(cli):
    assert_user_error(cli("run", "qlearning", "--env", "advdl/QWorld-v0", "--preset", "FrozenLake-v2"),
                      "FrozenLake-v2", "FrozenLake-v1")


def test_run_without_env_says_how_to_give_one(cli):
    assert_user_error(cli("run", "dqn"), "--env")


# -- environments an algorithm cannot handle ---------------------------------------------------------
@pytest.mark.parametrize("algo, env, words", [
    ("dqn", "Pendulum-v1", ("dqn", "Pendulum-v1", "discrete action space")),
    ("qlearning", "CartPole-v1", ("qlearning", "CartPole-v1", "discrete observation space")),
])
def test_algorithm_on_an_unsupported_space(cli, algo, env, words):
    assert_user_error(cli("run", algo, "--env", env, "--out", "out"), *words)


def test_bad_env_kwarg(cli):
    assert_user_error(cli("run", "qlearning", "--env", "FrozenLake-v1", "--env-kwarg", "is_slipery=false",
                          "--out", "out"), "FrozenLake-v1", "is_slipery")


def test_bad_env_kwarg_value(cli):  # the constructor raises KeyError: still one line
    assert_user_error(cli("run", "qlearning", "--env", "FrozenLake-v1", "--env-kwarg", "map_name=5x5",
                          "--out", "out"), "FrozenLake-v1", "5x5")


# -- invalid hyperparameters and run settings ----------------------------------------------------------
@pytest.mark.parametrize("args, words", [
    (("--learning-rate", "0"), ("learning_rate", "> 0")),
    (("--learning-rate", "-0.1"), ("learning_rate", "> 0")),
    (("--set", "learning_rate=0"), ("learning_rate", "> 0")),
    (("--gamma", "0"), ("gamma", "(0, 1]")),
    (("--gamma", "1.5"), ("gamma", "(0, 1]")),
    (("--batch-size", "1000", "--buffer-size", "100"), ("batch_size", "buffer_size")),
    (("--steps", "-5"), ("steps", "-5")),
    (("--steps", "0"), ("steps", "positive")),
    (("--seed", "-1"), ("seed", ">= 0")),
    (("--hidden-sizes", "0"), ("hidden_sizes",)),
    (("--loss", "foo"), ("loss", "huber", "mse")),
], ids=lambda v: " ".join(v) if isinstance(v, tuple) and v and v[0].startswith("-") else None)
def test_invalid_dqn_setting(cli, args, words):
    assert_user_error(cli("run", "dqn", *CARTPOLE, *args), *words)


@pytest.mark.parametrize("args, words", [
    (("--learning-rate", "0"), ("learning_rate",)),
    (("--gamma", "1.5"), ("gamma", "(0, 1]")),
])
def test_invalid_qlearning_setting(cli, args, words):
    assert_user_error(cli("run", "qlearning", "--env", "advdl/QWorld-v0", *args), *words)


# -- --set -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("assignment, words", [
    ("learning_rat=0.1", ("learning_rat", "Did you mean 'learning_rate'")),
    ("stepz=10", ("stepz", "Did you mean 'steps'")),
])
def test_unknown_set_key_suggests_the_closest(cli, assignment, words):
    assert_user_error(cli("run", "dqn", *CARTPOLE, "--set", assignment), *words)


@pytest.mark.parametrize("args", [("--set", "batch_size=abc"), ("--batch-size", "abc")])
def test_set_value_of_the_wrong_type(cli, args):
    assert_user_error(cli("run", "dqn", *CARTPOLE, *args), "batch_size", "int", "abc")


def test_set_without_equals(cli):
    assert_user_error(cli("run", "dqn", *CARTPOLE, "--set", "batch_size"), "KEY=VALUE", "batch_size")


def test_unknown_option(cli):
    assert_user_error(cli("run", "dqn", *CARTPOLE, "--bogus-flag", "1"), "--bogus-flag")


# -- config files ----------------------------------------------------------------------------------------
def test_malformed_yaml_config(cli, tmp_path):
    (tmp_path / "bad.yaml").write_text("algorithm: dqn\nenv: [CartPole\n  foo: : :\n")
    assert_user_error(cli("run", "dqn", "--config", "bad.yaml"), "malformed", "bad.yaml")


def test_config_that_is_not_a_mapping(cli, tmp_path):
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    assert_user_error(cli("run", "dqn", *CARTPOLE, "--config", "list.yaml"), "list.yaml", "mapping")


def test_config_file_for_another_algorithm(cli, tmp_path):
    (tmp_path / "q.yaml").write_text("algorithm: qlearning\nenv: advdl/QWorld-v0\n")
    assert_user_error(cli("run", "dqn", "--config", "q.yaml"), "qlearning", "dqn")


def test_missing_config_file(cli):
    assert_user_error(cli("run", "dqn", *CARTPOLE, "--config", "nofile.yaml"), "nofile.yaml", "not found")


def test_unknown_key_in_config_file(cli, tmp_path):
    (tmp_path / "h.yaml").write_text("algorithm: dqn\nhyperparameters:\n  learning_rat: 0.1\n")
    assert_user_error(cli("run", "dqn", *CARTPOLE, "--config", "h.yaml"), "learning_rat", "learning_rate")


# -- run folders: resume, eval, --out ------------------------------------------------------------------------
@pytest.mark.parametrize("command", [("run", "--resume"), ("run", "qlearning", "--resume"), ("eval",)])
def test_missing_run_folder(cli, command):
    assert_user_error(cli(*command, "nosuch"), "nosuch", "not found")


@pytest.mark.parametrize("command", [("run", "--resume"), ("run", "qlearning", "--resume"), ("eval",)])
def test_folder_that_is_not_a_run(cli, tmp_path, command):
    (tmp_path / "notrun").mkdir()
    assert_user_error(cli(*command, "notrun"), "notrun", "not an advdl run", "config.yaml")


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip_a_byte(path):
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))


def _garbage(path):
    path.write_bytes(b"this is not a checkpoint\n")


def _empty(path):
    path.write_bytes(b"")


DAMAGE = {"truncated": _truncate, "flipped-byte": _flip_a_byte, "garbage": _garbage, "empty": _empty}


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize("extra", [(), ("--steps", "600")], ids=["no-steps", "more-steps"])
def test_resume_with_a_corrupt_checkpoint(cli, finished_run, damage, extra):
    (ckpt,) = (finished_run / "checkpoints").glob("*.ckpt")
    DAMAGE[damage](ckpt)
    assert_user_error(cli("run", "--resume", finished_run, *extra), "corrupt", ckpt.name)


def test_resume_with_a_corrupt_checkpoint_through_the_algorithm_command(cli, finished_run):
    (ckpt,) = (finished_run / "checkpoints").glob("*.ckpt")
    _flip_a_byte(ckpt)
    assert_user_error(cli("run", "qlearning", "--resume", finished_run, "--steps", "600"), "corrupt")


def test_resume_without_checkpoints(cli, finished_run):
    for ckpt in (finished_run / "checkpoints").glob("*.ckpt"):
        ckpt.unlink()
    assert_user_error(cli("run", "--resume", finished_run, "--steps", "600"), "no checkpoint")


def test_resume_a_finished_run_asks_for_more_steps(cli, finished_run):
    assert_user_error(cli("run", "--resume", finished_run), "already finished", "--steps")


def test_resume_with_the_wrong_algorithm(cli, finished_run):
    assert_user_error(cli("run", "dqn", "--resume", finished_run, "--steps", "600"), "qlearning", "dqn")


def test_eval_of_a_run_without_its_model(cli, finished_run):
    (finished_run / "model.npz").unlink()
    assert_user_error(cli("eval", finished_run), "model.npz", "--resume")


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_eval_of_a_run_with_a_corrupt_model(cli, finished_run, damage):
    DAMAGE[damage](finished_run / "model.npz")
    line = assert_user_error(cli("eval", finished_run), "model.npz")
    assert "corrupt" in line or "cannot read" in line, line


def test_eval_of_a_finished_run_works(cli, finished_run):
    result = cli("eval", finished_run, "--episodes", "2", "--json")
    assert result.code == 0, str(result)
    assert json.loads(result.out) == {"mean": 100.0, "std": 0.0, "episodes": 2}


def test_eval_needs_at_least_one_episode(cli, finished_run):
    assert_user_error(cli("eval", finished_run, "--episodes", "0"), "--episodes")


def test_out_pointing_at_an_existing_run(cli, finished_run):
    before = sorted(p.name for p in finished_run.rglob("*"))
    line = assert_user_error(cli("run", "qlearning", "--env", "advdl/QWorld-v0", "--steps", "300",
                                 "--out", finished_run, "--no-progress"), "already holds a run", "--resume")
    assert str(finished_run) in line
    assert sorted(p.name for p in finished_run.rglob("*")) == before, "the existing run was modified"


def test_a_real_traceback_free_error_in_a_subprocess(tmp_path):
    """The same contract through the real interpreter entry point (python -m advdl)."""
    proc = subprocess.run([sys.executable, "-m", "advdl", "run", "dqm", "--env", "CartPole-v1"], cwd=tmp_path,
                          env=subprocess_env(), capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith("Error: ") and "dqn" in proc.stderr


# -- the positive paths, cheaply -----------------------------------------------------------------------
def test_info_dqn_lists_hyperparameters_and_presets(cli):
    result = cli("info", "dqn")
    assert result.code == 0, str(result)
    for word in ("learning_rate", "gamma", "batch_size", "CartPole-v1", "book", "zoo"):
        assert word in result.out


def test_info_json(cli):
    result = cli("info", "dqn", "--json")
    assert result.code == 0, str(result)
    info = json.loads(result.out)
    assert info["name"] == "dqn" and info["family"] == "rl"
    assert "learning_rate" in {p["name"] for p in info["hyperparameters"]}
    assert {"CartPole-v1", "book", "zoo"} <= set(info["presets"])
    assert all(p["help"] for p in info["hyperparameters"])


def test_run_dqn_help_lists_its_options(cli):
    result = cli("run", "dqn", "--help")
    assert result.code == 0, str(result)
    for option in ("--learning-rate", "--env", "--steps", "--set", "--config", "--resume", "--out"):
        assert option in result.out


def test_run_help_lists_the_algorithms(cli):
    result = cli("run", "--help")
    assert result.code == 0, str(result)
    for name in ("dqn", "ddqn", "qlearning"):
        assert name in result.out


def test_list_json_shape(cli):
    result = cli("list", "--json")
    assert result.code == 0, str(result)
    data = json.loads(result.out)
    assert set(data) >= {"algorithms", "envs", "errors"}
    assert [e for e in data["errors"] if e["distribution"] == "advdl"] == []
    for algo in data["algorithms"]:
        assert {"name", "family", "summary", "distribution", "version"} <= set(algo), algo
        assert all(algo[k] for k in ("name", "family", "summary", "distribution", "version")), algo
    names = {a["name"]: a for a in data["algorithms"]}
    assert {"dqn", "ddqn", "qlearning"} <= set(names)
    assert names["dqn"]["distribution"] == "advdl"
    assert "advdl/QWorld-v0" in {e["id"] for e in data["envs"]}


def test_list_text(cli):
    result = cli("list")
    assert result.code == 0, str(result)
    for word in ("dqn", "ddqn", "qlearning", "advdl/QWorld-v0", "advdl 0.1.0"):
        assert word in result.out


# -- listing and help never import TensorFlow (a fresh interpreter per command) --------------------------
NO_TF_PROBE = """
import sys
from advdl.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
else:
    code = 0
heavy = sorted(m for m in ("tensorflow", "keras") if m in sys.modules)
print("HEAVY=" + ",".join(heavy), "CODE=" + str(code), file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [("list",), ("list", "--json"), ("run", "--help"), ("run", "dqn", "--help"),
                                  ("info", "dqn"), ("info", "dqn", "--json"), ("run", "dqm")],
                         ids=" ".join)
def test_listing_and_help_do_not_import_tensorflow(tmp_path, argv):
    proc = subprocess.run([sys.executable, "-c", NO_TF_PROBE, *argv], cwd=tmp_path, env=subprocess_env(),
                          capture_output=True, text=True, timeout=60, check=False)
    assert "Traceback" not in proc.stderr, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("HEAVY="), proc.stderr
    assert last.split()[0] == "HEAVY=", f"advdl {' '.join(argv)} imported {last.split()[0][6:]}"


def test_resume_refuses_flags_that_would_change_the_run(cli, finished_run):
    assert_user_error(cli("run", "qlearning", "--resume", finished_run, "--set", "gamma=0.5"), "--set", "config.yaml")
    assert_user_error(cli("run", "qlearning", "--resume", finished_run, "--gamma", "0.5"), "--gamma")
