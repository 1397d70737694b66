"""Every user mistake is one ``Error: ...`` line on stderr, a non-zero exit code, no traceback.

Most tests call ``advdl.commands.main.main`` in-process (the ``cli`` fixture of conftest.py); an exception
escaping ``main`` fails the test, since a user would see it as a traceback. Validation happens before
an agent is built, so these cases need no TensorFlow, except those of ``sample`` and ``score``: they load
a tiny VAE (``vae_run``, trained once for the module).
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
    (("--steps", "0"), ("steps must be at least 1",)),
    (("--seed", "-1"), ("seed must be in 0..2,147,483,647", "got -1")),
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
from advdl.commands.main import main
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


# -- numbers no setting takes: seeds, beyond 64 bits, NaN and infinities -----------------------------------
QWORLD = ("--env", "advdl/QWorld-v0")
SEED_RANGE = "0..2147483647"  # --seeds
SEED_BOUNDS = "0..2,147,483,647"  # the seed setting (its option's bounds)


@pytest.mark.parametrize("args, words", [
    (("--seed", 10**20), ("seed", "64-bit")),  # was accepted: numpy, Keras and Gymnasium each took it or not
    (("--seed", 2**31), ("seed", SEED_BOUNDS)),
    (("--set", "seed=1e20"), ("seed", "'1e20'", "64-bit")),
    (("--set", "seed=2147483648"), ("seed", SEED_BOUNDS)),
    (("--steps", 2**63), ("steps", "64-bit")),
    (("--set", "episodes=1e308"), ("episodes", "64-bit")),
    (("--eval-interval", 10**20), ("eval_interval", "64-bit")),
    (("--set", "checkpoint_interval=-1e400"), ("checkpoint_interval", "expected int")),
    (("--set", "gamma=nan"), ("gamma", "expected a number", "nan")),
    (("--set", "learning_rate=inf"), ("learning_rate", "finite", "float32")),
    (("--set", "exploration_decay=1e308"), ("exploration_decay", "finite")),
], ids=lambda v: " ".join(map(str, v)) if isinstance(v, tuple) and str(v[0]).startswith("-") else None)
def test_numbers_no_setting_takes(cli, args, words):
    assert_user_error(cli("run", "qlearning", *QWORLD, *args, "--out", "out"), *words)


@pytest.mark.parametrize("argv, words", [
    (("eval", "RUN", "--seed", -1), ("--seed", "0<=x<=2147483647")),
    (("eval", "RUN", "--seed", 2**31), ("--seed", "0<=x<=2147483647")),
    (("sample", "RUN", "--seed", -1, "--out", "x.png"), ("--seed", "0<=x<=2147483647")),
    (("score", "RUN", "--seed", 10**20), ("--seed", "0<=x<=2147483647")),
    (("run", "qlearning", *QWORLD, "--seeds", "0,2147483648"), ("--seeds", SEED_RANGE, "2147483648")),
    (("run", "vae", "--data", "synthetic_mnist", "--seed", 2**31), ("seed", SEED_BOUNDS)),
], ids=lambda v: " ".join(map(str, v[:4])) if isinstance(v, tuple) and len(v) > 2 else None)
def test_seeds_beyond_what_numpy_keras_and_gymnasium_take(cli, argv, words):
    assert_user_error(cli(*argv), *words)


@pytest.mark.parametrize("args, words", [
    (("--buffer-size", "1e20"), ("buffer_size", "64-bit")),
    (("--buffer-size", "1e308"), ("buffer_size", "64-bit")),
    (("--gradient-steps", "100000000000000000000"), ("gradient_steps", "64-bit")),
    (("--target-update-interval", "1e308"), ("target_update_interval", "64-bit")),
    (("--hidden-sizes", "64,1e20"), ("hidden_sizes", "64-bit")),
    (("--max-grad-norm", "nan"), ("max_grad_norm", "expected a number", "none is also allowed")),  # was accepted
    (("--max-grad-norm", "inf"), ("max_grad_norm", "finite")),
    (("--learning-rate", "nan"), ("learning_rate", "expected a number")),
    (("--learning-rate-end", "-inf"), ("learning_rate_end", "finite")),
    (("--exploration-fraction", "NaN"), ("exploration_fraction", "expected a number")),
], ids=lambda v: " ".join(v) if isinstance(v, tuple) and v[0].startswith("-") else None)
def test_dqn_numbers_out_of_range(cli, args, words):
    assert_user_error(cli("run", "dqn", *CARTPOLE, *args, "--out", "out"), *words)


@pytest.mark.parametrize("algo, args, words", [
    ("a2c", ("--n-envs", 10**6), ("n_envs must be in 1..1,024", "got 1,000,000")),
    ("a2c", ("--n-envs", 0), ("n_envs must be in 1..1,024", "got 0")),
    ("a2c", ("--log-std-init", "100"), ("log_std_init", "[-20, 20]")),
    ("reinforce", ("--hidden-sizes", "64,0"), ("hidden_sizes",)),
    ("actor-critic", ("--ent-coef", "nan"), ("ent_coef", "expected a number")),
])
def test_policy_gradient_numbers_out_of_range(cli, algo, args, words):
    assert_user_error(cli("run", algo, *CARTPOLE, *args, "--out", "out"), *words)


@pytest.mark.parametrize("algo, args, words", [
    ("cnn", ("--conv-layers", 0), ("conv_layers must be at least 1",)),  # these four were accepted, then failed in Keras
    ("cnn", ("--kernel-size", -1), ("kernel_size must be at least 1",)),
    ("rnn", ("--units", 0), ("units", "1..65,536")),
    ("densenet", ("--growth-rate", -1), ("growth_rate",)),
    ("ynet", ("--dilation-rate", 0), ("dilation_rate",)),
    ("mlp", ("--hidden-sizes", 2**31), ("hidden_sizes", "65,536")),
    ("resnet", ("--depth", 6 * 10**6 + 2), ("depth", "at most 2,000")),
    ("cnn", ("--conv-layers", 10), ("conv_layers 10", "28x28", "nothing")),  # needs the images: before TensorFlow
    ("ynet", ("--conv-layers", 6), ("conv_layers must be at most 4", "28x28")),
    ("autoencoder", ("--filters", "8,8,8,8,8,8"), ("filters: 6 stride-2 convolutions", "at most 5")),
    ("vae", ("--hidden-units", 2**31), ("hidden_units", "65,536")),
    ("dcgan", ("--latent-dim", 10**9), ("latent_dim",)),
    ("wgan", ("--critic-steps", 10**9), ("critic_steps", "1..100")),
    ("cyclegan", ("--filters", 10**6), ("filters", "1..8,192")),
    ("infogan", ("--discrete-codes", 2**31), ("discrete_codes",)),
    ("stackedgan", ("--feature-dim", 2**31), ("feature_dim",)),
    ("vae", ("--beta", "inf"), ("beta", "finite")),
    ("vae", ("--epochs", 2**31), ("epochs must be in 1..2,147,483,647",)),
    ("vae", ("--strategy", "mirrored", "--replicas", 10**6), ("replicas must be in 0..256",)),
])
def test_dataset_model_settings_out_of_range(cli, algo, args, words):
    assert_user_error(cli("run", algo, "--data", "synthetic_mnist", *args, "--out", "out"), *words)


@pytest.mark.parametrize("value", ["-1", "0", "abc", "1.5", "true", "1.0e+400", "[5]"])
def test_max_episode_steps_env_kwarg_must_be_a_positive_integer(cli, value):
    """gymnasium.make takes -1 as "no time limit" and true as 1, without a word."""
    assert_user_error(cli("run", "qlearning", *QWORLD, "--env-kwarg", f"max_episode_steps={value}", "--out", "out"),
                      "max_episode_steps", "positive integer")


# -- settings that parse but cannot be honoured: memory, checked before anything is allocated ----------------
@pytest.fixture
def eight_gb(monkeypatch):
    """8 GB of memory available, whatever this machine has (the messages and limits do not depend on it)."""
    from advdl.api import memory

    monkeypatch.setattr(memory, "available_bytes", lambda: 8 * 2**30)


@pytest.mark.parametrize("algo, args, words", [
    ("dqn", ("--buffer-size", 10**12), ("replay buffer", "buffer_size 1,000,000,000,000", "87.3 TB of memory needed",
                                        "8.0 GB available", "lower buffer_size")),
    ("dqn", ("--gradient-steps", 10**15), ("gradient_steps x batch_size = 1,000,000,000,000,000 x 64",
                                           "of memory needed")),
    ("dqn", ("--batch-size", 2**31, "--buffer-size", 2**31), ("buffer_size 2,147,483,648",)),
    ("dqn", ("--hidden-sizes", "100000000,1000"), ("hidden_sizes [100000000, 1000]", "of memory needed")),
    ("a2c", ("--n-steps", 10**12), ("n_steps x n_envs = 1,000,000,000,000 x 8", "of memory needed")),
    ("a2c", ("--hidden-sizes", 2**31), ("hidden_sizes [2147483648]", "of memory needed")),
    ("reinforce", ("--hidden-sizes", "65536,65536,65536"), ("hidden_sizes", "of memory needed")),
])
def test_settings_that_cannot_fit_in_memory(cli, eight_gb, algo, args, words):
    """Refused before TensorFlow starts and before numpy allocates (the kernel grants a huge np.zeros lazily, and
    kills the process when the buffer fills)."""
    assert_user_error(cli("run", algo, *CARTPOLE, *args, "--steps", 300, "--out", "out", "--no-progress"), *words)


# -- --seeds and --workers --------------------------------------------------------------------------------
@pytest.mark.parametrize("args, words", [
    (("--seeds", ""), ("--seeds", "no seeds")),  # was a single run with seed 0
    (("--seeds", " , "), ("--seeds", "0-4")),
    (("--seeds", "0-2", "--workers", 0), ("--workers", "x>=1")),
    (("--seeds", "0-2", "--workers", -3), ("--workers", "x>=1")),
], ids=repr)
def test_bad_seeds_and_workers(cli, args, words):
    assert_user_error(cli("run", "qlearning", *QWORLD, "--steps", 300, *args, "--out", "out"), *words)


def test_compare_needs_a_worker(cli):
    assert_user_error(cli("compare", "dqn", *CARTPOLE, "--workers", 0), "--workers", "x>=1")


def test_more_workers_than_cpus_is_a_warning(cli, monkeypatch, tmp_path):
    import os

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    result = cli("run", "qlearning", *QWORLD, "--steps", 300, "--seeds", "0", "--workers", 64, "--out", tmp_path / "s",
                 "--no-progress")
    assert result.code == 0, str(result)
    warning = [line for line in result.err.splitlines() if "warning" in line]
    assert warning == ["advdl: warning: --workers 64 is more than the 2 CPUs of this machine; the seeds' processes "
                       "will share them (no faster than --workers 2)"], result.err


# -- sample, score, translate: counts and files -------------------------------------------------------------
@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    """A finished one-epoch VAE on synthetic digits (16 hidden units, 4 batches; no scoring classifier, which
    none of these tests reach), trained once for the module."""
    from advdl_plugins.autoencoder.vae import VAE

    from advdl.testing import run_algorithm

    out = tmp_path_factory.mktemp("vae") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(VAE, "scored", False)
        run_algorithm("vae", "synthetic_mnist", out, epochs=1, batch_size=500, hidden_units=16)
    return out


@pytest.mark.parametrize("argv, words", [
    (("sample", "--n", 10**20, "--out", "x.npz"), ("--n 100,000,000,000,000,000,000 images", "of memory needed")),
    (("sample", "--n", 10**7, "--out", "x.npz"), ("--n 10,000,000 images", "8.0 GB available", "ask for fewer")),
    (("sample", "--n", 10**7, "--out", "x.png"), ("a .png grid holds at most 10,000 images", ".npz")),
    (("sample", "--n", "1e20", "--out", "x.png"), ("--n", "not a valid integer")),
    (("sample", "--n", 0, "--out", "x.png"), ("--n must be at least 1",)),
    (("sample", "--out", "x.txt"), (".png", ".npz", "x.txt")),
    (("sample", "--n", 4, "--out", "/proc/self/x.png"), ("cannot write /proc/self/x.png",)),
    (("sample", "--n", 4, "--out", "/proc/self/x.npz"), ("cannot write /proc/self/x.npz",)),
    (("sample", "--n", 4, "--out", "FILE/x.png"), ("cannot write", "FILE/x.png")),
    (("score", "--n", 10**20), ("--n 100,000,000,000,000,000,000 images", "of memory needed")),
    (("score", "--n", "1e20"), ("--n", "not a valid integer")),
    (("score", "--n", 0), ("--n must be at least 1",)),
], ids=lambda v: " ".join(map(str, v)) if isinstance(v, tuple) and v[0] in ("sample", "score") else None)
def test_sample_and_score_requests_that_cannot_be_honoured(cli, eight_gb, vae_run, tmp_path, argv, words):
    (tmp_path / "FILE").write_text("a file, not a folder")
    command, *rest = argv
    assert_user_error(cli(command, vae_run, *rest), *words)
    assert not list(tmp_path.glob("x.*"))


def test_sample_writes_within_the_limits(cli, vae_run, tmp_path):
    result = cli("sample", vae_run, "--n", 12, "--out", tmp_path / "s.npz")
    assert result.code == 0, str(result)
    import numpy as np

    assert np.load(tmp_path / "s.npz")["images"].shape == (12, 28, 28, 1)


class FakeTranslator:
    """A two-domain model's translate(), without a CycleGAN to train."""

    directions = ("a2b", "b2a")

    def translate(self, direction, n, dataset):
        import numpy as np

        images = np.zeros((min(n, 3), 8, 8, 1), np.float32)
        return images, images, np.zeros(len(images), np.int64)


@pytest.mark.parametrize("args, words", [
    (("--out", "/proc/self/x.png"), ("cannot write /proc/self/x.png",)),
    (("--out", "/proc/self/x.npz"), ("cannot write /proc/self/x.npz",)),
    (("--out", "FILE/x.png"), ("cannot write", "FILE/x.png")),
    (("--out", "x.txt"), (".png", ".npz")),
    (("--n", 0, "--out", "x.png"), ("--n must be at least 1",)),
    (("--n", "1e20", "--out", "x.png"), ("--n", "not a valid integer")),
], ids=lambda v: " ".join(map(str, v)) if isinstance(v, tuple) and str(v[0]).startswith("--") else None)
def test_translate_output_that_cannot_be_written(cli, monkeypatch, tmp_path, args, words):
    from types import SimpleNamespace

    from advdl.runs import start as run

    monkeypatch.setattr(run, "load_generative", lambda run_dir, registry: (
        SimpleNamespace(name="cyclegan"), None, FakeTranslator(), None))
    (tmp_path / "FILE").write_text("a file, not a folder")
    assert_user_error(cli("translate", "RUN", *args), *words)
    assert cli("translate", "RUN", "--n", 3, "--out", tmp_path / "t.png").code == 0


# -- eval --record -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("record, words", [
    ("x.txt", ("--record", ".gif or .webp", "x.txt")),  # was imageio's traceback, after the evaluation
    ("x.mp4", ("--record", ".gif or .webp", "x.mp4")),  # needs imageio-ffmpeg
    ("/proc/self/x.gif", ("cannot write /proc/self/x.gif",)),
    ("FILE/x.gif", ("cannot write", "FILE/x.gif")),
])
def test_eval_record_that_cannot_be_written(cli, finished_run, tmp_path, record, words):
    (tmp_path / "FILE").write_text("a file, not a folder")
    assert_user_error(cli("eval", finished_run, "--episodes", 1, "--record", record), *words)


def _register(env_id, cls, **kwargs):
    import gymnasium as gym

    if env_id not in gym.registry:
        gym.register(env_id, entry_point=cls, **kwargs)


def _qworld_variant(**attributes):
    from advdl_envs.qworld import QWorldEnv

    return type("Variant", (QWorldEnv,), attributes)


def _render_fails(self):
    raise RuntimeError("no display")


@pytest.mark.parametrize("env_id, attributes, words", [
    ("advdl_test/AnsiWorld-v0", {"metadata": {"render_modes": ["ansi"], "render_fps": 4}},
     ("--record", "rgb_array", "renders ansi")),
    ("advdl_test/BrokenRenderWorld-v0", {"render": _render_fails}, ("cannot render", "RuntimeError: no display")),
    ("advdl_test/BlankWorld-v0", {"render": lambda self: None}, ("rendered nothing",)),
])
def test_eval_record_of_an_env_without_images(cli, tmp_path, env_id, attributes, words):
    _register(env_id, _qworld_variant(**attributes), max_episode_steps=100)
    result = cli("run", "qlearning", "--env", env_id, "--steps", 300, "--out", tmp_path / "run", "--no-progress")
    assert result.code == 0, str(result)
    assert_user_error(cli("eval", tmp_path / "run", "--episodes", 1, "--record", tmp_path / "x.gif"), *words)
    assert not (tmp_path / "x.gif").exists()


def test_eval_record_caps_an_episode_without_a_time_limit(cli, monkeypatch, tmp_path):
    """A greedy policy that never ends its episode on an env without a time limit recorded frames forever (and
    filled the memory); the recording ends where an evaluation episode does."""
    import imageio.v3 as iio
    import numpy as np

    from advdl.rl import evaluation

    def step(self, action):  # never ends; each frame differs (a GIF merges equal frames)
        self.steps = getattr(self, "steps", 0) + 1
        return 0, 0.0, False, False, {}

    def render(self):
        return np.full((8, 8, 3), 5 * getattr(self, "steps", 0) % 256, np.uint8)

    monkeypatch.setattr(evaluation, "MAX_EPISODE_STEPS", 30)
    _register("advdl_test/EndlessWorld-v0", _qworld_variant(step=step, render=render))
    result = cli("run", "qlearning", "--env", "advdl_test/EndlessWorld-v0", "--steps", 300, "--out", tmp_path / "run",
                 "--no-progress")
    assert result.code == 0, str(result)
    result = cli("eval", tmp_path / "run", "--episodes", 1, "--record", tmp_path / "x.gif")
    assert result.code == 0, str(result)
    assert "advdl: --record: the episode was cut after 30 steps (the evaluation's step cap)" in result.err
    assert iio.improps(tmp_path / "x.gif").shape[0] == 31  # the first observation and 30 steps
