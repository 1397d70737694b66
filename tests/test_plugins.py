"""Plugin loading: fake installed distributions (subprocess) and extra plugin objects (in-process).

A fake distribution is a ``NAME-VERSION.dist-info`` folder (METADATA, entry_points.txt with an
``[advdl]`` group) next to the plugin's module, in a folder put on PYTHONPATH: importlib.metadata
finds it exactly as it finds a pip-installed one.
"""

import dataclasses
import inspect
import json
import re
import time
import types
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ADVDL_SWITCHES, assert_user_error, make_distribution, run_advdl

import advdl
from advdl import AdvdlError, AlgorithmSpec, EnvSpec, PluginError, hookimpl, option
from advdl.api import hookspecs
from advdl.loading.manager import build_registry
from advdl.loading.registry import plugin_call
from advdl.rl.settings import RunConfig

ROOT = Path(__file__).resolve().parents[1]
BUILTIN_ALGORITHMS = {"dqn", "ddqn", "qlearning", "a2c", "reinforce", "reinforce-baseline", "actor-critic",
                      "mlp", "cnn", "rnn", "ynet", "resnet", "densenet", "dcgan", "lsgan", "cgan", "acgan", "wgan",
                      "infogan", "stackedgan", "cyclegan", "autoencoder", "dae", "colorization", "vae", "cvae",
                      "beta-vae"}

# -- plugin modules of the fake distributions ----------------------------------------------------------
CONFIG = """
    from dataclasses import dataclass
    from advdl import AlgorithmSpec, EnvSpec, hookimpl, option

    @dataclass(frozen=True, kw_only=True)
    class Config:
        alpha: float = option(0.5, "Step size.")
"""

GOOD = CONFIG + """
    @hookimpl
    def advdl_register_algorithms(register):
        register(AlgorithmSpec(name="myalgo", family="rl", summary="My algorithm.", config=Config,
                               factory="my_algos_plugin.agent:MyAgent"))

    @hookimpl
    def advdl_register_envs(register):
        register(EnvSpec(id="myalgos/Lake-v0", summary="A lake.",
                         entry_point="gymnasium.envs.toy_text.frozen_lake:FrozenLakeEnv"))
"""

IMPORT_ERROR = """
    raise ImportError("needs libfoo, which is not installed")
"""

RAISING_HOOK = """
    from advdl import hookimpl

    @hookimpl
    def advdl_register_algorithms(register):
        raise RuntimeError("kaboom in register")
"""

DUPLICATE_DQN = CONFIG + """
    @hookimpl
    def advdl_register_algorithms(register):
        register(AlgorithmSpec(name="dqn", family="rl", summary="Another DQN.", config=Config,
                               factory="fast_dqn_plugin:Agent"))
"""

BAD_FAMILY = CONFIG + """
    @hookimpl
    def advdl_register_algorithms(register):
        register(AlgorithmSpec(name="badfamily", family="reinforcement", summary="s", config=Config,
                               factory="bad_family_plugin:Agent"))
"""

BAD_FACTORY = CONFIG + """
    @hookimpl
    def advdl_register_algorithms(register):
        register(AlgorithmSpec(name="badfactory", family="rl", summary="s", config=Config,
                               factory="bad_factory_plugin.Agent"))
"""

DUPLICATE_ENV = """
    from advdl import EnvSpec, hookimpl

    @hookimpl
    def advdl_register_envs(register):
        register(EnvSpec(id="advdl/QWorld-v0", entry_point="advdl_envs.qworld:QWorldEnv"))
"""

BAD_PRESET = CONFIG + """
    @hookimpl
    def advdl_register_algorithms(register):
        register(AlgorithmSpec(name="presetalgo", family="rl", summary="s", config=Config,
                               factory="bad_preset_plugin:Agent",
                               presets={"Lake-v0": {"enviroment": "myalgos/Lake-v0", "run": {"steps": 100}}}))
"""

SHADOW = CONFIG + """
    @hookimpl
    def advdl_register_algorithms(register):
        register(AlgorithmSpec(name="shadowdqn", family="rl", summary="s", config=Config,
                               factory="shadow_plugin:Agent"))
"""


def good(root):
    return make_distribution(root, "my-algos", "2.3", {"myalgo": "my_algos_plugin"},
                             {"my_algos_plugin": GOOD})


def broken_import(root):
    return make_distribution(root, "broken-dist", "0.1", {"brokenimport": "broken_import_plugin"},
                             {"broken_import_plugin": IMPORT_ERROR})


def raising_hook(root):
    return make_distribution(root, "raising-dist", "1.1", {"raiser": "raising_plugin"},
                             {"raising_plugin": RAISING_HOOK})


def duplicate_dqn(root):
    return make_distribution(root, "fast-dqn", "1.0", {"fastdqn": "fast_dqn_plugin"},
                             {"fast_dqn_plugin": DUPLICATE_DQN})


def listing(root, **env):
    result = run_advdl("list", "--json", cwd=root, pythonpath=root, env=env)
    assert result.code == 0, str(result)
    assert "Traceback" not in result.err, str(result)
    data = json.loads(result.out)
    return data, {a["name"]: a for a in data["algorithms"]}


def errors_of(data, plugin):
    return [e for e in data["errors"] if e["plugin"] == plugin]


# -- (a) a working third-party plugin ------------------------------------------------------------------
def test_third_party_plugin_is_listed_with_its_distribution(tmp_path):
    good(tmp_path)
    data, algos = listing(tmp_path)
    assert data["errors"] == []
    mine = algos["myalgo"]
    assert (mine["distribution"], mine["version"], mine["plugin"]) == ("my-algos", "2.3", "myalgo")
    assert mine["family"] == "rl" and mine["summary"] == "My algorithm."
    assert BUILTIN_ALGORITHMS <= set(algos)
    envs = {e["id"]: e for e in data["envs"]}
    assert envs["myalgos/Lake-v0"]["distribution"] == "my-algos"
    assert envs["myalgos/Lake-v0"]["version"] == "2.3"
    assert "advdl/QWorld-v0" in envs
    text = run_advdl("list", cwd=tmp_path, pythonpath=tmp_path)
    assert text.code == 0 and "my-algos 2.3" in text.out


def test_third_party_plugin_info(tmp_path):
    good(tmp_path)
    result = run_advdl("info", "myalgo", cwd=tmp_path, pythonpath=tmp_path)
    assert result.code == 0, str(result)
    assert "from my-algos 2.3" in result.out and "alpha" in result.out


# -- (b) a plugin that fails to import -----------------------------------------------------------------
def test_plugin_failing_to_import_is_listed_under_errors(tmp_path):
    broken_import(tmp_path)
    good(tmp_path)
    data, algos = listing(tmp_path)
    (err,) = errors_of(data, "brokenimport")
    assert err["distribution"] == "broken-dist"
    assert "ImportError" in err["error"] and "libfoo" in err["error"]
    assert BUILTIN_ALGORITHMS | {"myalgo"} <= set(algos)

    text = run_advdl("list", cwd=tmp_path, pythonpath=tmp_path)
    assert text.code == 0, str(text)
    assert "Traceback" not in text.err
    assert "Broken plugins" in text.out
    broken = text.out.split("Broken plugins", 1)[1]
    assert "brokenimport" in broken and "broken-dist" in broken and "libfoo" in broken
    for name in BUILTIN_ALGORITHMS:
        assert name in text.out.split("Broken plugins", 1)[0]


# -- (c) a plugin whose register hook raises ---------------------------------------------------------------
def test_plugin_whose_register_hook_raises_is_listed_under_errors(tmp_path):
    raising_hook(tmp_path)
    good(tmp_path)
    data, algos = listing(tmp_path)
    (err,) = errors_of(data, "raiser")
    assert err["distribution"] == "raising-dist"
    assert "advdl_register_algorithms" in err["error"] and "kaboom in register" in err["error"]
    assert BUILTIN_ALGORITHMS | {"myalgo"} <= set(algos)
    help_result = run_advdl("run", "dqn", "--help", cwd=tmp_path, pythonpath=tmp_path)
    assert help_result.code == 0 and "--learning-rate" in help_result.out


# -- (d) two plugins registering one name ------------------------------------------------------------------
def test_two_plugins_registering_dqn(tmp_path):
    duplicate_dqn(tmp_path)
    data, algos = listing(tmp_path)
    assert "dqn" not in algos, "an ambiguous name must not silently resolve to one plugin"
    assert {"ddqn", "qlearning"} <= set(algos)
    messages = [e["error"] for e in data["errors"] if "'dqn'" in e["error"]]
    assert len(messages) == 1, data["errors"]
    for word in ("fastdqn", "fast-dqn", "advdl"):
        assert word in messages[0]

    for command in (("run", "dqn", "--env", "CartPole-v1"), ("info", "dqn")):
        result = run_advdl(*command, cwd=tmp_path, pythonpath=tmp_path)
        assert_user_error(result, "dqn", "fastdqn", "fast-dqn", "ADVDL_BLOCK_PLUGINS")

    # blocking the newcomer gives the built-in back
    data, algos = listing(tmp_path, ADVDL_BLOCK_PLUGINS="fastdqn")
    assert algos["dqn"]["distribution"] == "advdl" and data["errors"] == []


def test_two_plugins_registering_one_env(tmp_path):
    make_distribution(tmp_path, "env-dup", "1.0", {"envdup": "env_dup_plugin"}, {"env_dup_plugin": DUPLICATE_ENV})
    data, _ = listing(tmp_path)
    messages = [e["error"] for e in data["errors"] if "advdl/QWorld-v0" in e["error"]]
    assert len(messages) == 1 and "envdup" in messages[0] and "'envs'" in messages[0], data["errors"]
    # using the ambiguous id names both plugins (as for an algorithm), not "unknown environment"
    result = run_advdl("run", "qlearning", "--env", "advdl/QWorld-v0", "--steps", "100", "--out", "out",
                       "--no-progress", cwd=tmp_path, pythonpath=tmp_path)
    assert_user_error(result, "advdl/QWorld-v0", "envdup", "envs")


def test_entry_point_named_like_a_builtin_does_not_silently_replace_it(tmp_path):
    """A third-party entry point named ``dqn`` must not make advdl's own dqn plugin vanish unnoticed."""
    make_distribution(tmp_path, "shadow-dqn", "0.5", {"dqn": "shadow_plugin"}, {"shadow_plugin": SHADOW})
    data, algos = listing(tmp_path)
    assert {"dqn", "ddqn"} <= set(algos), (
        f"advdl's built-in dqn plugin was dropped without an error; algorithms: {sorted(algos)}, "
        f"errors: {data['errors']}")
    assert "shadowdqn" in algos or any(e["distribution"] == "shadow-dqn" for e in data["errors"]), (
        f"the shadow-dqn plugin was dropped without an error: {data}")


# -- (e) the plugin switches --------------------------------------------------------------------------------
def test_block_plugins_skips_a_plugin(tmp_path):
    good(tmp_path)
    broken_import(tmp_path)
    data, algos = listing(tmp_path, ADVDL_BLOCK_PLUGINS="myalgo, brokenimport")
    assert "myalgo" not in algos and data["errors"] == []
    assert BUILTIN_ALGORITHMS <= set(algos)


def test_block_a_builtin_plugin(tmp_path):
    _, algos = listing(tmp_path, ADVDL_BLOCK_PLUGINS="dqn")
    assert "dqn" not in algos and "ddqn" not in algos and "qlearning" in algos
    result = run_advdl("run", "dqn", "--env", "CartPole-v1", cwd=tmp_path, env={"ADVDL_BLOCK_PLUGINS": "dqn"})
    assert_user_error(result, "dqn")


def test_only_advdl_plugins(tmp_path):
    good(tmp_path)
    broken_import(tmp_path)
    data, algos = listing(tmp_path, ADVDL_PLUGINS="advdl")
    assert set(algos) == BUILTIN_ALGORITHMS
    assert data["errors"] == []
    assert {e["id"] for e in data["envs"]} == {"advdl/QWorld-v0", "advdl/PixelGrid-v0"}


def test_only_a_third_party_distribution(tmp_path):
    good(tmp_path)
    data, algos = listing(tmp_path, ADVDL_PLUGINS="my-algos")
    assert set(algos) == {"myalgo"}
    assert {e["id"] for e in data["envs"]} == {"myalgos/Lake-v0"}


# -- (f) strict mode ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, plugin, word", [
    (broken_import, "brokenimport", "libfoo"),
    (raising_hook, "raiser", "kaboom in register"),
    (duplicate_dqn, "fastdqn", "dqn"),
], ids=["import-error", "hook-raises", "duplicate-name"])
def test_strict_plugins_fails_on_a_broken_plugin(tmp_path, make, plugin, word):
    make(tmp_path)
    result = run_advdl("list", cwd=tmp_path, pythonpath=tmp_path, env={"ADVDL_STRICT_PLUGINS": "1"})
    assert_user_error(result, plugin, word)


def test_strict_plugins_is_quiet_when_nothing_is_broken(tmp_path):
    good(tmp_path)
    result = run_advdl("list", cwd=tmp_path, pythonpath=tmp_path, env={"ADVDL_STRICT_PLUGINS": "1"})
    assert result.code == 0 and "myalgo" in result.out, str(result)


# -- (g) invalid specs from an installed plugin -------------------------------------------------------------
def test_invalid_specs_become_errors(tmp_path):
    make_distribution(tmp_path, "bad-spec", "0.2", {"badfamily": "bad_family_plugin", "badfactory": "bad_factory_plugin"},
                      {"bad_family_plugin": BAD_FAMILY, "bad_factory_plugin": BAD_FACTORY})
    data, algos = listing(tmp_path)
    assert "badfamily" not in algos and "badfactory" not in algos
    assert BUILTIN_ALGORITHMS <= set(algos)
    (family,) = errors_of(data, "badfamily")
    assert family["distribution"] == "bad-spec" and "family" in family["error"] and "rl" in family["error"]
    (factory,) = errors_of(data, "badfactory")
    assert factory["distribution"] == "bad-spec" and "module:Class" in factory["error"]


# -- (h) hostile plugins: whatever a plugin does, the CLI keeps working ------------------------------------------
SLEEPS = """
    import time
    time.sleep(60)
"""

EXITS = """
    import sys
    sys.exit(7)
"""

INTERRUPTS = """
    raise KeyboardInterrupt
"""

EXITING_HOOK = """
    import sys
    from advdl import hookimpl

    @hookimpl
    def advdl_register_algorithms(register):
        sys.exit(3)
"""

EVIL = CONFIG + """
    from advdl import Agent, DatasetSpec

    class EvilAgent(Agent):
        def __init__(self, *args, **kwargs):
            raise RuntimeError("boom in __init__")

        def act(self, obs, explore): ...
        def train_step(self, batch): ...
        def save_model(self, path): ...
        def load_model(self, path): ...
        def get_state(self): ...
        def set_state(self, state): ...

    def load_evil(data_dir):
        raise OSError("the loader exploded")

    @hookimpl
    def advdl_register_algorithms(register):
        register(AlgorithmSpec(name="evilalgo", family="rl", summary="s", config=Config,
                               factory="evil_plugin:EvilAgent"))
        # its class lives in the module whose import hangs: using it must not wait on that import
        register(AlgorithmSpec(name="stuckalgo", family="rl", summary="s", config=Config,
                               factory="sleepy_plugin:Agent"))

    @hookimpl
    def advdl_register_datasets(register):
        register(DatasetSpec(name="evildata", loader="evil_plugin:load_evil", image_shape=(28, 28, 1)))
"""

FAST = {"ADVDL_PLUGIN_TIMEOUT": "1"}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """evil-dist 1.0: plugins that hang, exit or interrupt at import, exit in a hook, or fail when used."""
    root = tmp_path_factory.mktemp("hostile")
    make_distribution(root, "evil-dist", "1.0",
                      {"sleepy": "sleepy_plugin", "sleepy2": "sleepy_plugin", "exits": "exits_plugin",
                       "interrupts": "interrupts_plugin", "exithook": "exit_hook_plugin", "evil": "evil_plugin"},
                      {"sleepy_plugin": SLEEPS, "exits_plugin": EXITS, "interrupts_plugin": INTERRUPTS,
                       "exit_hook_plugin": EXITING_HOOK, "evil_plugin": EVIL})
    return root


def timed(*args, root, cwd, env, timeout=30):
    start = time.monotonic()
    result = run_advdl(*args, cwd=cwd, pythonpath=root, env=env, timeout=timeout)
    return result, time.monotonic() - start


def test_hostile_plugins_at_import_are_listed_as_broken(hostile, tmp_path):
    result, seconds = timed("list", "--json", root=hostile, cwd=tmp_path, env=FAST)
    assert result.code == 0 and seconds < 20, str(result)
    data = json.loads(result.out)
    assert BUILTIN_ALGORITHMS | {"evilalgo"} <= {a["name"] for a in data["algorithms"]}
    expected = {"sleepy": ("took more than 1 s to import", "ADVDL_BLOCK_PLUGINS=sleepy"),
                "sleepy2": ("sleepy_plugin is still importing", "ADVDL_BLOCK_PLUGINS=sleepy2"),
                "exits": ("SystemExit(7)", "at import"), "interrupts": ("KeyboardInterrupt", "at import"),
                "exithook": ("advdl_register_algorithms", "SystemExit(3)")}
    for plugin, words in expected.items():
        (err,) = errors_of(data, plugin)
        assert err["distribution"] == "evil-dist" and all(w in err["error"] for w in words), err
    warnings = [line for line in result.err.splitlines() if "warning" in line]
    assert len(warnings) == 2 and "plugin 'sleepy' (evil-dist 1.0) took more than 1 s" in warnings[0], result.err


@pytest.mark.parametrize("args", [("list",), ("--help",), ("run", "--help")], ids=" ".join)
def test_a_plugin_hanging_at_import_does_not_hang_the_cli(hostile, tmp_path, args):
    result, seconds = timed(*args, root=hostile, cwd=tmp_path, env=FAST)
    assert result.code == 0 and seconds < 20 and "Traceback" not in result.err, str(result)
    assert "Usage" in result.out or "sleepy (evil-dist): took more than 1 s" in result.out, str(result)


def test_blocking_a_hanging_plugin_skips_it_without_waiting(hostile, tmp_path):
    env = {"ADVDL_BLOCK_PLUGINS": "sleepy,sleepy2", "ADVDL_PLUGIN_TIMEOUT": "soon"}  # a bad value: the default, 10 s
    result, seconds = timed("list", "--json", root=hostile, cwd=tmp_path, env=env)
    assert result.code == 0 and seconds < 8, str(result)
    assert not errors_of(json.loads(result.out), "sleepy")
    assert result.err.splitlines() == [
        "advdl: warning: ADVDL_PLUGIN_TIMEOUT='soon' is not a positive number of seconds; using 10"], result.err


def test_a_run_works_beside_hostile_plugins(hostile, tmp_path):
    result, _ = timed("run", "qlearning", "--env", "advdl/QWorld-v0", "--steps", 300, "--out", "q", "--no-progress",
                      root=hostile, cwd=tmp_path, env=FAST)
    assert result.code == 0 and (tmp_path / "q" / "summary.json").is_file(), str(result)
    assert "plugin 'sleepy' (evil-dist 1.0) took more than 1 s to import" in result.err


def test_a_class_in_a_module_still_importing_is_an_error_not_a_hang(hostile, tmp_path):
    result, seconds = timed("run", "stuckalgo", "--env", "CartPole-v1", "--out", "s", "--no-progress",
                            root=hostile, cwd=tmp_path, env=FAST)
    assert seconds < 20
    assert_user_error(result, "plugin 'evil' (evil-dist 1.0)", "stuckalgo", "sleepy_plugin is still importing")


def test_an_algorithm_failing_in_its_constructor_is_one_line_naming_its_plugin(hostile, tmp_path):
    args = ("run", "evilalgo", "--env", "CartPole-v1", "--steps", 100, "--out", "e", "--no-progress")
    env = {"ADVDL_BLOCK_PLUGINS": "sleepy,sleepy2"}
    result, _ = timed(*args, root=hostile, cwd=tmp_path, env=env)
    assert_user_error(result, "plugin 'evil' (evil-dist 1.0): EvilAgent(...) failed: RuntimeError: boom in __init__",
                      "ADVDL_DEBUG=1")
    debug, _ = timed(*args, root=hostile, cwd=tmp_path, env=env | {"ADVDL_DEBUG": "1"})
    assert debug.code == result.code and debug.error == result.error, str(debug)
    traceback = debug.err.split("Error:", 1)[0]
    assert "Traceback" in traceback and 'raise RuntimeError("boom in __init__")' in traceback, str(debug)


def test_a_dataset_loader_failing_is_one_line_naming_its_plugin(hostile, tmp_path):
    result, _ = timed("run", "cnn", "--data", "evildata", "--out", "d", "--no-progress", root=hostile, cwd=tmp_path,
                      env={"ADVDL_BLOCK_PLUGINS": "sleepy,sleepy2"})
    assert_user_error(result, "plugin 'evil' (evil-dist 1.0): dataset 'evildata'", "OSError: the loader exploded")


# -- in-process: build_registry(extra_plugins=[...]) ----------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class TinyConfig:
    alpha: float = option(0.5, "Step size.")


def spec(**changes):
    values = {"name": "tiny", "family": "rl", "summary": "A tiny algorithm.", "config": TinyConfig,
              "factory": "advdl_plugins.qlearning.agent:QLearningAgent"}
    values.update(changes)
    return AlgorithmSpec(**values)


@pytest.fixture(autouse=True)
def no_switches(monkeypatch):
    for name in ADVDL_SWITCHES:
        monkeypatch.delenv(name, raising=False)


class TinyPlugin:
    @hookimpl
    def advdl_register_algorithms(self, register):
        register(spec())

    @hookimpl
    def advdl_register_envs(self, register):
        register(EnvSpec(id="tiny/Lake-v0", entry_point="gymnasium.envs.toy_text.frozen_lake:FrozenLakeEnv",
                         max_episode_steps=50))


def errors_from(reg, who):
    """Error entries of one plugin (or, for "advdl", of advdl's own distribution)."""
    return [e for e in reg.errors if who in (e["plugin"], e["distribution"])]


def test_extra_plugin_object_registers():
    reg = build_registry(extra_plugins=[TinyPlugin()])
    assert errors_from(reg, "TinyPlugin") == [] and errors_from(reg, "advdl") == []
    tiny = reg.algorithm("tiny")
    assert tiny.plugin == "TinyPlugin" and tiny.family == "rl"
    assert reg.envs["tiny/Lake-v0"].plugin == "TinyPlugin"
    assert BUILTIN_ALGORITHMS <= set(reg.algorithms)
    assert tiny.load_class().__name__ == "QLearningAgent"


def test_extra_plugin_module_registers():
    module = types.ModuleType("my_module_plugin")

    @hookimpl
    def advdl_register_algorithms(register):
        register(spec(name="frommodule"))

    module.advdl_register_algorithms = advdl_register_algorithms
    reg = build_registry(extra_plugins=[module])
    assert reg.algorithm("frommodule").plugin == "my_module_plugin"


def test_extra_plugin_that_raises_spares_the_rest():
    class Raiser:
        @hookimpl
        def advdl_register_algorithms(self, register):
            register(spec(name="before"))
            raise ValueError("half-way")

    reg = build_registry(extra_plugins=[Raiser(), TinyPlugin()])
    (err,) = errors_from(reg, "Raiser")
    assert err["plugin"] == "Raiser" and "ValueError" in err["error"] and "half-way" in err["error"]
    assert BUILTIN_ALGORITHMS | {"tiny"} <= set(reg.algorithms)


def test_extra_plugin_registering_dqn_again():
    class Dup:
        @hookimpl
        def advdl_register_algorithms(self, register):
            register(spec(name="dqn"))

    reg = build_registry(extra_plugins=[Dup()])
    assert "dqn" not in reg.algorithms and "ddqn" in reg.algorithms
    (err,) = [e for e in reg.errors if "'dqn'" in e["error"]]
    assert "'dqn'" in err["error"] and "Dup" in err["error"] and "advdl" in err["error"]
    with pytest.raises(PluginError, match="Dup") as info:
        reg.algorithm("dqn")
    assert "plugin 'dqn'" in str(info.value) and "ADVDL_BLOCK_PLUGINS" in str(info.value)


@pytest.mark.parametrize("bad, word", [
    (lambda: spec(family="reinforcement"), "family"),
    (lambda: spec(factory="no_colon_here"), "module:Class"),
    (lambda: spec(factory="a.b:"), "module:Class"),
    (lambda: spec(name="Has Spaces"), "invalid algorithm name"),
    (lambda: spec(config=dict), "dataclass"),
    (lambda: {"name": "tiny"}, "AlgorithmSpec"),
], ids=["family", "factory-no-colon", "factory-no-class", "name", "config", "not-a-spec"])
def test_invalid_algorithm_spec_becomes_an_error(bad, word):
    class Bad:
        @hookimpl
        def advdl_register_algorithms(self, register):
            register(bad())

    reg = build_registry(extra_plugins=[Bad(), TinyPlugin()])
    (err,) = errors_from(reg, "Bad")
    assert err["plugin"] == "Bad" and word in err["error"], err
    assert BUILTIN_ALGORITHMS | {"tiny"} <= set(reg.algorithms)


@pytest.mark.parametrize("presets, words", [
    ({"fast": {"hyperparameter": {"alpha": 0.1}}}, ("unknown key 'hyperparameter'", "Did you mean 'hyperparameters'?",
                                                    "A preset has description, steps, run, hyperparameters, env.")),
    ({"fast": {"data": "mnist"}}, ("unknown key 'data'",)),  # an rl preset names an env
    ({"fast": {"run": {"stepz": 10}}}, ("run: 'stepz' is not a run setting", "Did you mean 'steps'?")),
    ({"fast": {"run": {"alpha": 0.1}}}, ("'alpha' is not a run setting",)),
    ({"fast": {"hyperparameters": {"beta": 0.1}}}, ("hyperparameters: 'beta' is not a field of TinyConfig",)),
    ({"fast": {"hyperparameters": {"alpha": "fast"}}}, ("alpha: expected float",)),
    ({"fast": {"run": {"steps": 0}}}, ("steps must be at least 1",)),
    ({"fast": {"hyperparameters": {"alpha": 2.0}}}, ("alpha must be in (0, 1]",)),
    ({"fast": {"run": [("steps", 10)]}}, ("run must be a mapping",)),
    ({"fast": ["steps"]}, ("a preset is a mapping",)),
    ({"fast": {"env": 3}}, ("env must be text",)),
], ids=["key", "other-family-target", "run-key", "hyperparameter-as-run", "hyperparameter", "value", "run-bound",
        "hyperparameter-bound", "run-not-mapping", "not-mapping", "env-not-text"])
def test_a_broken_preset_breaks_its_plugin_at_registration(presets, words):
    @dataclass(frozen=True, kw_only=True)
    class TinyConfig:
        alpha: float = option(0.5, "Step size.", above=0, high=1)

    class BadPreset:
        @hookimpl
        def advdl_register_algorithms(self, register):
            register(spec(name="presetalgo", config=TinyConfig, presets=presets))

    reg = build_registry(extra_plugins=[BadPreset(), TinyPlugin()])
    (err,) = errors_from(reg, "BadPreset")
    assert "algorithm 'presetalgo': preset 'fast'" in err["error"], err
    for word in words:
        assert word in err["error"], err
    assert "presetalgo" not in reg.algorithms
    assert BUILTIN_ALGORITHMS | {"tiny"} <= set(reg.algorithms)


def test_a_preset_with_an_unknown_key_is_listed_as_broken(tmp_path):
    make_distribution(tmp_path, "bad-preset", "0.2", {"badpreset": "bad_preset_plugin"},
                      {"bad_preset_plugin": BAD_PRESET})
    good(tmp_path)
    data, algos = listing(tmp_path)
    (err,) = errors_of(data, "badpreset")
    assert "preset 'Lake-v0'" in err["error"] and "'enviroment'" in err["error"], err
    assert "presetalgo" not in algos and BUILTIN_ALGORITHMS | {"myalgo"} <= set(algos)
    text = run_advdl("list", cwd=tmp_path, pythonpath=tmp_path)
    broken = text.out.split("Broken plugins", 1)[1]
    assert "badpreset (bad-preset)" in broken and "preset 'Lake-v0'" in broken


def test_invalid_env_spec_becomes_an_error():
    class BadEnv:
        @hookimpl
        def advdl_register_envs(self, register):
            register(EnvSpec(id="bad/Env-v0", entry_point="not a target"))

    reg = build_registry(extra_plugins=[BadEnv()])
    (err,) = errors_from(reg, "BadEnv")
    assert err["plugin"] == "BadEnv" and "entry_point" in err["error"]
    assert "bad/Env-v0" not in reg.envs and "advdl/QWorld-v0" in reg.envs


def test_strict_mode_raises_an_advdl_error_for_a_raising_hook(monkeypatch):
    """Strict mode must still end in one ``Error:`` line, i.e. raise an AdvdlError, not the raw exception."""

    class Raiser:
        @hookimpl
        def advdl_register_algorithms(self, register):
            raise RuntimeError("kaboom")

    monkeypatch.setenv("ADVDL_STRICT_PLUGINS", "1")
    with pytest.raises(AdvdlError, match="kaboom"):
        build_registry(extra_plugins=[Raiser()])


def test_factory_that_cannot_be_imported_is_reported_as_the_plugins_error():
    s = spec(factory="no_such_module_xyz:Agent")
    with pytest.raises(PluginError, match="no_such_module_xyz"):
        s.load_class()


@pytest.mark.parametrize("raised", [SystemExit(3), KeyboardInterrupt()], ids=["SystemExit", "KeyboardInterrupt"])
def test_a_register_hook_that_exits_spares_the_rest(raised):
    class Exiter:
        @hookimpl
        def advdl_register_algorithms(self, register):
            raise raised

    reg = build_registry(extra_plugins=[Exiter(), TinyPlugin()])
    (err,) = errors_from(reg, "Exiter")
    assert "advdl_register_algorithms failed" in err["error"] and repr(raised) in err["error"]
    assert "tiny" in reg.algorithms and "qlearning" in reg.algorithms


def test_plugin_call_names_the_plugin_and_passes_advdl_errors_through():
    owner = spec()
    owner.plugin, owner.distribution, owner.version = "evil", "evil-dist", "1.0"

    def fails(exc):
        raise exc

    with pytest.raises(PluginError, match=r"^plugin 'evil' \(evil-dist 1.0\): Evil\(\.\.\.\) failed: "
                                          r"ValueError: bad \(ADVDL_DEBUG=1") as caught:
        plugin_call(owner, "Evil(...)", fails, ValueError("bad"))
    assert isinstance(caught.value.__cause__, ValueError)
    with pytest.raises(PluginError, match=r"SystemExit\(4\)"):
        plugin_call(owner, "Evil(...)", fails, SystemExit(4))
    on_purpose = advdl.ConfigError("alpha must be positive")
    with pytest.raises(advdl.ConfigError) as caught:
        plugin_call(owner, "Evil(...)", fails, on_purpose)
    assert caught.value is on_purpose
    assert plugin_call(owner, "f", lambda a, b=0: a + b, 1, b=2) == 3


# -- advdl_run_callbacks --------------------------------------------------------------------------------------
class Recorder:
    """A callback recording what the Trainer calls; optionally stops the run."""

    def __init__(self, stop_on=None):
        self.events = []
        self.stop_on = stop_on

    def on_start(self, trainer):
        self.events.append(("start", trainer.env_steps))

    def on_episode_end(self, trainer, episode_return, length):
        self.events.append(("episode", trainer.env_steps))

    def on_log(self, trainer, row):
        self.events.append(("log", row["env_steps"]))
        return self.stop_on == "log"

    def on_evaluation(self, trainer, record):
        self.events.append(("evaluation", record["env_steps"]))
        return self.stop_on == "evaluation"

    def on_end(self, *args, **kwargs):
        self.events.append(("end", None))

    def kinds(self):
        return [kind for kind, _ in self.events]

    def steps(self, kind):
        return [step for k, step in self.events if k == kind]


class CallbackPlugin:
    def __init__(self, callbacks):
        self.callbacks = callbacks
        self.calls = []

    @hookimpl
    def advdl_run_callbacks(self, algorithm, config, run_dir):
        self.calls.append((algorithm, config, run_dir))
        return self.callbacks


class NoCallbacks:
    @hookimpl
    def advdl_run_callbacks(self, algorithm, config, run_dir):
        return None


@pytest.fixture
def run_with_callbacks(cli, monkeypatch, tmp_path):
    """Run a tiny Q-learning training through the CLI with extra callback plugins (no TensorFlow)."""
    import advdl.loading.manager

    def run(plugins, *extra):
        reg = build_registry(extra_plugins=plugins)
        monkeypatch.setattr(advdl.loading.manager, "get_registry", lambda: reg)
        out = tmp_path / "run"
        result = cli("run", "qlearning", "--env", "advdl/QWorld-v0", "--steps", "200", "--out", out,
                     "--no-progress", "--eval-interval", "100", "--set", "log_interval=50", *extra)
        assert result.code == 0, str(result)
        return out, json.loads((out / "summary.json").read_text())

    return run


def test_run_callbacks_hook_results_are_used(run_with_callbacks):
    recorder = Recorder()
    plugin = CallbackPlugin([recorder])
    out, summary = run_with_callbacks([plugin, NoCallbacks()])
    ((algorithm, config, run_dir),) = plugin.calls
    assert algorithm == "qlearning"
    assert isinstance(config, RunConfig) and config.env == "advdl/QWorld-v0" and config.steps == 200
    assert isinstance(run_dir, Path) and run_dir.resolve() == out.resolve()
    assert recorder.events[0] == ("start", 0)
    assert recorder.steps("log") == [50, 100, 150, 200]
    assert recorder.steps("evaluation") == [100, 200]
    assert recorder.steps("episode"), "on_episode_end was never called"
    assert summary["env_steps"] == 200


@pytest.mark.parametrize("stop_on, stopped_at", [("log", 50), ("evaluation", 100)])
def test_callback_can_stop_the_run_early(run_with_callbacks, stop_on, stopped_at):
    recorder = Recorder(stop_on=stop_on)
    _, summary = run_with_callbacks([CallbackPlugin([recorder])])
    assert summary["env_steps"] == stopped_at


def test_callback_on_end_is_called(run_with_callbacks):
    """The advdl_run_callbacks docstring promises on_end among the callback methods."""
    recorder = Recorder()
    run_with_callbacks([CallbackPlugin([recorder])])
    assert recorder.kinds().count("end") == 1, f"on_end calls: {recorder.kinds().count('end')}"
    assert recorder.kinds()[-1] == "end"


def test_callback_base_class_named_by_the_hookspec_exists():
    """The advdl_run_callbacks docstring points plugin authors at advdl.api.callbacks.Callback."""
    import importlib

    module = importlib.import_module("advdl.api.callbacks")
    for method in ("on_start", "on_episode_end", "on_log", "on_evaluation", "on_end"):
        assert callable(getattr(module.Callback, method, None)), method


def test_trace_hooks_writes_hook_calls_to_stderr(monkeypatch, capsys):
    monkeypatch.setenv("ADVDL_TRACE_HOOKS", "1")
    build_registry(extra_plugins=[TinyPlugin()])
    assert "advdl_register_algorithms" in capsys.readouterr().err


# -- hook documentation ------------------------------------------------------------------------------------
def hook_names():
    names = [name for name, fn in vars(hookspecs).items()
             if name.startswith("advdl_") and inspect.isfunction(fn)]
    assert names, "no hooks found in advdl/hookspecs.py"
    return names


def test_every_hook_is_a_hookspec_with_a_docstring():
    for name in hook_names():
        fn = getattr(hookspecs, name)
        assert hasattr(fn, f"{hookspecs.PROJECT}_spec"), f"{name} is not marked @hookspec"
        doc = inspect.getdoc(fn) or ""
        assert len(doc.strip()) >= 20, f"{name} has no (real) docstring"


def readme_section(text, title):
    """The text after the heading containing ``title`` up to the next heading of the same or a higher level."""
    lines = text.splitlines()
    headings = []  # (line index, level, heading text)
    in_code = False
    for i, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        m = None if in_code else re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if m:
            headings.append((i, len(m.group(1)), m.group(2)))
        elif i > 0 and lines[i - 1].strip() and re.match(r"^(=+|-+)\s*$", line):
            headings.append((i - 1, 1 if line.startswith("=") else 2, lines[i - 1].strip()))
    for n, (i, level, heading) in enumerate(headings):
        if title.lower() in heading.lower():
            end = next((j for j, lvl, _ in headings[n + 1:] if lvl <= level and j > i), len(lines))
            return "\n".join(lines[i + 1:end])
    return None


def plugin_section():
    readme = ROOT / "README.md"
    assert readme.is_file(), "README.md does not exist yet"
    section = readme_section(readme.read_text(encoding="utf-8"), "Writing a plugin")
    assert section is not None, "README.md has no heading containing 'Writing a plugin'"
    return section


def test_every_hook_and_its_arguments_are_documented_in_the_readme():
    """Each hook has a heading ``name(arg, ...)`` (its spec's arguments, in order) in 'Writing a plugin',
    and its text names every argument as ``arg``."""
    section, problems = plugin_section(), []
    for name in hook_names():
        signature = f"{name}({', '.join(inspect.signature(getattr(hookspecs, name)).parameters)})"
        entry = readme_section(section, f"`{signature}`")
        if entry is None:
            problems.append(f"no heading `{signature}`")
            continue
        problems += [f"{signature}: argument `{arg}` not described" for arg in signature[len(name) + 1:-1].split(", ")
                     if arg and f"`{arg}`" not in entry]
    assert not problems, "README's 'Writing a plugin' hook reference: " + "; ".join(problems)


def test_every_name_of_the_plugin_api_is_documented_in_the_readme():
    import advdl.api

    section = plugin_section()
    blocks = re.findall(r"^```.*?^```", section, flags=re.S | re.M)  # code blocks, then the `inline code`
    spans = " ".join(blocks + re.findall(r"`([^`\n]+)`", re.sub(r"^```.*?^```", "", section, flags=re.S | re.M)))
    missing = [name for name in advdl.api.__all__ if not re.search(rf"(?<![\w.]){re.escape(name)}\b", spans)]
    assert not missing, f"names of advdl.api.__all__ not documented (in code) in README's 'Writing a plugin': {missing}"


def test_public_api_names_what_plugins_need():
    for name in ("AlgorithmSpec", "EnvSpec", "hookimpl", "option", "ConfigError", "EnvSpaceError",
                 "CheckpointError", "PluginError", "AdvdlError", "Agent"):
        assert getattr(advdl, name) is not None, name
    assert dataclasses.is_dataclass(AlgorithmSpec) and dataclasses.is_dataclass(EnvSpec)
