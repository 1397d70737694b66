"""Bad input, systematically: property-based tests (hypothesis) of the CLI and the config parser.

Random ``--set KEY=VALUE`` assignments, random ``--grid`` values, random environment ids, random
config files and random damage to real run folders (truncated, deleted, altered, swapped files)
all end the same way: exit code 0, or one ``Error: ...`` line and a non-zero exit code, never a
traceback. Every command runs in-process through the ``cli`` fixture (an exception escaping
``advdl.commands.main.main`` fails the test). Runs are tabular Q-learning on the Q-world (no TensorFlow); the
numeric extremes of every other algorithm's settings stop after validation, and a handful of the
riskiest (sizes of buffers, networks, batches) run for real.

What is random is the input; the training budget is not: ``small_budget`` caps a run's steps and
evaluation episodes after its settings were validated (``--set steps=10**30`` is still parsed and
checked as given, then trains 500 steps), so each case stays around 0.1 s.

Reproducible: ``derandomize=True`` (the same cases on every run, no example database). The default
run tries ``sum(DEFAULT_EXAMPLES.values())`` cases; ``ADVDL_PROPERTY_EXAMPLES=N`` tries N per
property instead (a deeper run), ``ADVDL_PROPERTY_RANDOM=1`` other cases on every run (hypothesis
prints a failing example in full). The count is printed at the end of the module's tests.
"""

import dataclasses
import functools
import json
import math
import os
import shutil
import sys
import time
import types
import typing
from collections import Counter
from pathlib import Path

import pytest
import yaml
from advdl_plugins.qlearning import QLearningConfig
from conftest import assert_user_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advdl.rl.settings import RunConfig
from advdl.settings.resolve import run_config_class
from advdl.settings.values import fields_of

# the default suite's budget (under 8 minutes on 2 cores); ADVDL_PROPERTY_EXAMPLES=N tries N of each
DEFAULT_EXAMPLES = {"set": 30, "config": 200, "names": 200, "grid": 500, "damage": 50, "extremes": 600}
DEEP = int(os.environ.get("ADVDL_PROPERTY_EXAMPLES", "0") or 0)
FRESH = os.environ.get("ADVDL_PROPERTY_RANDOM") == "1"  # other cases each run (a failure prints its example)
CASES = Counter()  # examples tried per property (and the CLI invocations they made)
QWORLD = ("--env", "advdl/QWorld-v0")
MAX_STEPS, MAX_EPISODES = 500, 3


def budget(name):
    return settings(max_examples=DEEP or DEFAULT_EXAMPLES[name], deadline=None, derandomize=not FRESH, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large, HealthCheck.filter_too_much])


@pytest.fixture(scope="module", autouse=True)
def report_cases(request):
    """Print how many cases the properties tried (shown without -s, after the module's tests)."""
    started = time.perf_counter()
    yield
    if CASES:
        parts = ", ".join(f"{k} {v}" for k, v in CASES.items() if not k.startswith("commands"))
        total = sum(v for k, v in CASES.items() if not k.startswith("commands"))
        line = (f"property tests: {total} cases ({parts}), {CASES['commands']} advdl commands "
                f"({CASES['commands that succeeded']} succeeded), in {time.perf_counter() - started:.1f} s")
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        if reporter is None or capture is None:
            print(line, file=sys.stderr)
            return
        with capture.global_and_fixture_disabled():
            reporter.write_line("\n" + line)


@pytest.fixture(autouse=True)
def no_lasting_side_effects(monkeypatch):
    """--set deterministic=true turns TensorFlow's oneDNN kernels off for the rest of the process (an
    environment variable and a flag, set before TensorFlow starts): undone after each test, so the
    tests after these run as they would without them."""
    from advdl.api import backend

    if hasattr(backend, "_strict"):
        monkeypatch.setattr(backend, "_strict", backend._strict)
    name = "TF_ENABLE_ONEDNN_OPTS"
    was_set = name in os.environ
    monkeypatch.setenv(name, os.environ.get(name, ""))  # from now on, monkeypatch restores it after the test
    if not was_set:
        monkeypatch.delenv(name)


@pytest.fixture
def small_budget(monkeypatch):
    """Train at most MAX_STEPS steps and MAX_EPISODES evaluation episodes, whatever the settings say, and
    end an evaluation episode of an environment without a time limit after 2,000 steps (not 100,000)."""
    from advdl.rl import evaluation
    from advdl.runs import start as run

    monkeypatch.setattr(evaluation, "MAX_EPISODE_STEPS", 2000)

    real = run.train

    def train(spec, run_config, *args, **kwargs):
        if isinstance(run_config, RunConfig):  # a run on a dataset keeps its epochs
            run_config = dataclasses.replace(
                run_config, steps=min(run_config.steps, MAX_STEPS),
                eval_episodes=min(run_config.eval_episodes, MAX_EPISODES),
                final_eval_episodes=min(run_config.final_eval_episodes, MAX_EPISODES))
        return real(spec, run_config, *args, **kwargs)

    monkeypatch.setattr(run, "train", train)


class Folders:
    """A fresh folder per hypothesis example (the function-scoped tmp_path is shared by all of them)."""

    def __init__(self, root):
        self.root, self.count = Path(root), 0

    def new(self):
        self.count += 1
        return self.root / f"case-{self.count}"


@pytest.fixture
def folders(tmp_path):
    return Folders(tmp_path)


def check(result):
    """Exit code 0, or exactly one ``Error:`` line (the last of stderr; any others are advdl's status
    lines) and a non-zero exit code; never a traceback."""
    CASES["commands"] += 1
    assert "Traceback" not in result.err and "Traceback" not in result.out, str(result)
    if result.code == 0:
        CASES["commands that succeeded"] += 1
        return None
    line = assert_user_error(result)
    lines = [x for x in result.err.splitlines() if x.strip()]
    assert lines[-1] == line, f"the error is not one line:\n{result.err}"
    assert all(x.startswith(("advdl: ", "Error: ")) for x in lines), f"more than one line of error:\n{result.err}"
    return line


# -- strategies ----------------------------------------------------------------------------------------
HYPER_KEYS = tuple(f.name for f in dataclasses.fields(QLearningConfig))
RUN_KEYS = tuple(f.name for f in dataclasses.fields(RunConfig))
REAL_KEYS = HYPER_KEYS + RUN_KEYS

# what a shell can pass: any text but NUL (lone surrogates come only from undecodable bytes)
TEXT = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
junk_text = st.text(TEXT, max_size=12)


def near_misses(key):
    return st.sampled_from([key.upper(), key.title(), key.replace("_", "-"), key.replace("_", ""), key[:-1],
                            key + "s", f" {key} ", f"{key}\t", key + "=", "--" + key, f"hyperparameters.{key}",
                            key + "[0]", key.replace("a", "\u0430"), key + "\u200b", "_" + key, key * 2])


keys = st.one_of(st.sampled_from(REAL_KEYS), st.sampled_from(REAL_KEYS).flatmap(near_misses), junk_text,
                 st.sampled_from(["", " ", "=", "==", "γ", "ステップ", "🙂", "hyperparameters", "algorithm", "preset",
                                  "config", "set", "out", "resume", "seeds", "workers", "data", "epochs", "-",
                                  "learning rate", "a\nb", "steps\r", "\\"]))

NASTY_VALUES = [
    "", " ", "0", "-0", "1", "-1", "0.5", "-0.5", "1.0", "1.5", "2", "100", "1e3", "1e-3", "1e400", "-1e400",
    "1e-400", "nan", "NaN", "-nan", "inf", "-inf", "+inf", "Infinity", "1_000", "1__0", "_1", "1_", "0x10", "0b1",
    "0o7", "1.", ".5", "-.5", "1e", "e1", "10**9", "1/3", "½", "\u0661\u0662", "𝟙", "99999999999999999999999999",
    "-99999999999999999999999999", "true", "false", "True", "yes", "no", "on", "off", "null", "None", "none", "~",
    "[]", "[1,2]", "[[1]]", "[", "]", "[1", "1]", "{}", "{a: 1}", "1,2", ",", ",,", "a=b", "a=b,c=d", "key: value",
    "- item", "!!python/object/apply:os.system ['echo pwned']", "&a 1", "*a", "'quoted'", '"double"', "sync",
    "async", "advdl/QWorld-v0", "FrozenLake-v1", "CartPole-v1", "is_slippery=false", "is_slippery=[",
    "map_name=8x8", "x=1", "=1", "\t", "\n1", "0.5\n", "1 2", "1e5", "NaN,1", "[64,64]", "--steps", "-h",
]
numbers = st.one_of(st.integers(-10**30, 10**30), st.floats(allow_nan=True, allow_infinity=True))
values = st.one_of(
    st.sampled_from(NASTY_VALUES),
    numbers.map(str),
    st.floats(0, 1).map(repr),
    st.integers(0, 2000).map(str),
    st.lists(st.one_of(numbers.map(str), st.sampled_from(NASTY_VALUES)), max_size=4).map(",".join),
    st.lists(numbers.map(str), max_size=3).map(lambda xs: "[" + ",".join(xs) + "]"),
    junk_text,
)


def plausible(tp):
    """Values a setting of type ``tp`` may well take, in the spellings a user might use: with these the
    runs mostly train, with unusual settings."""
    if typing.get_origin(tp) is typing.Literal:
        return st.sampled_from([str(a) for a in typing.get_args(tp)] + ["nan", ""])
    if tp is bool:
        return st.sampled_from(["true", "false", "True", "yes", "no", "on", "off", "1", "0", "2"])
    if tp is int:
        return st.one_of(st.integers(0, 1000).map(str), st.sampled_from(["1_0", "2e2", " 7 ", "1.0", "-1", "0x1"]))
    if tp is float:
        return st.one_of(st.floats(0, 1).map(repr), st.sampled_from(["1", "1e-9", ".5", "nan", "1_0", "0.5 "]))
    return st.sampled_from(["", "[]", "advdl/QWorld-v0", "FrozenLake-v1", "is_slippery=false"])


SETTING_TYPES = {f.name: tp for cls in (QLearningConfig, RunConfig) for f, tp in fields_of(cls)}
likely_assignment = st.sampled_from(sorted(SETTING_TYPES)).flatmap(
    lambda key: plausible(SETTING_TYPES[key]).map(lambda value: f"{key}={value}"))


def assignment_items():
    assignment = st.builds(lambda k, v: f"{k}={v}", keys, values)
    likely = likely_assignment
    return st.one_of(st.lists(st.one_of(assignment, assignment, junk_text), min_size=1, max_size=4),
                     st.lists(likely, min_size=1, max_size=4))


# YAML documents: plain values, nested junk, real keys with random values
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(), junk_text,
                    st.sampled_from(NASTY_VALUES))
yaml_keys = st.one_of(st.sampled_from(REAL_KEYS + ("algorithm", "preset", "hyperparameters")), junk_text,
                      st.integers(-3, 3), st.booleans(), st.none(), st.floats(allow_nan=False))


def containers(inner):
    return st.one_of(st.lists(inner, max_size=3), st.dictionaries(yaml_keys, inner, max_size=3))


yaml_values = st.recursive(scalars, containers, max_leaves=8)

VALID_CONFIG = {
    "algorithm": "qlearning", "preset": "advdl/QWorld-v0", "env": "advdl/QWorld-v0", "env_kwargs": {},
    "steps": 300, "episodes": 0, "seed": 0, "eval_interval": 5000, "eval_episodes": 1, "final_eval_episodes": 1,
    "checkpoint_interval": 100, "log_interval": 1000, "keep_best": False, "stop_when_solved": False, "vec": "sync",
    "hyperparameters": {"learning_rate": 1.0, "gamma": 0.9, "exploration_initial_eps": 1.0,
                        "exploration_final_eps": 0.1, "exploration_decay": 0.9},
}
edit = st.one_of(
    st.tuples(st.just("set"), yaml_keys, yaml_values),
    st.tuples(st.just("set"), st.sampled_from(REAL_KEYS), st.one_of(scalars, yaml_values)),
    st.tuples(st.just("hyper"), st.one_of(st.sampled_from(HYPER_KEYS), yaml_keys), st.one_of(scalars, yaml_values)),
    st.tuples(st.just("delete"), st.sampled_from(sorted(VALID_CONFIG)), st.none()),
)


def edited_config(edits):
    data = json.loads(json.dumps(VALID_CONFIG))
    for kind, key, value in edits:
        if kind == "delete":
            data.pop(key, None)
        elif kind == "hyper" and isinstance(data.get("hyperparameters"), dict):
            data["hyperparameters"][key] = value
        else:
            data[key] = value
    return data


def dump(document):
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True).encode()


def alias_bomb(depth, width=10):
    """A few hundred bytes of YAML that expand to width**(depth+1) values ("billion laughs")."""
    text = "&a0 [" + ",".join(["xxxxxxxxxx"] * width) + "]"
    for i in range(1, depth + 1):
        text = f"&a{i} [{text}, " + ", ".join([f"*a{i - 1}"] * (width - 1)) + "]"
    return text


RAW_DOCUMENTS = [
    b"", b"\n", b"---\n", b"--- !!map {}\n", b"...\n", b"null\n", b"~\n", b"42\n", b"just a string\n", b"- a\n- b\n",
    b"[1, 2\n", b"{a: 1\n", b"a: b: c\n", b"\ta: 1\n", b"algorithm: qlearning\n  steps: 5\n", b"'unterminated\n",
    b"%YAML 9.9\n---\na: 1\n", b"!!binary SGVsbG8=\n", b"a: !!binary SGVsbG8=\n", b"steps: !!float 1e3\n",
    b"steps: 0x1F\n", b"steps: 0o17\n", b"steps: 1_000\n", b"steps: 1e400\n", b"steps: .nan\n", b"steps: .inf\n",
    b"a: &x [*x]\n", b"a: *undefined\n", b"<<: {steps: 5}\n", b"? [1, 2]\n: 3\n", b"? {a: 1}\n: 3\n",
    b"hyperparameters: !!set {gamma, learning_rate}\n", b"steps: 2001-12-14\n", b"seed: 2001-12-14t21:59:43.10-05:00\n",
    b"env: !!python/name:os.system\n", b"!!python/object/apply:os.system [\"touch PWNED\"]\n",
    b"env: !!python/object/apply:os.system [\"touch PWNED\"]\n",
    b"hyperparameters: !!python/object/new:subprocess.Popen [[touch, PWNED]]\n",
    b"!<tag:yaml.org,2002:python/object/apply:os.system> [\"touch PWNED\"]\n", b"env: !custom x\n",
    b"\xff\xfe\x00\x00", b"\x00\x01\x02", b"algorithm: qlearning\xff\n", b"\xef\xbb\xbfsteps: 50\n",
    "steps: ½\n".encode(), b"env: advdl/QWorld-v0\nenv_kwargs: [is_slippery=false]\n",
    b"env_kwargs: {a: [\n", b"env_kwargs: \"x\"\n", b"hyperparameters: []\n", b"hyperparameters: 5\n",
    b"hyperparameters: {gamma: [0.5]}\n", b"preset: [1]\n", b"preset: {a: 1}\n", b"env: [1]\n", b"env: {a: 1}\n",
    b"algorithm: [qlearning]\n", b"1: 2\n", b"null: 1\n", b"true: false\n", b"[1, 2]: 3\n",
    f"hyperparameters: {{gamma: {alias_bomb(9)}}}\n".encode(), f"env_kwargs: {{a: {alias_bomb(9)}}}\n".encode(),
    b"hyperparameters: {gamma: &x [*x]}\n", b"env_kwargs: &x {a: *x}\n",
]
documents = st.one_of(
    st.lists(edit, max_size=4).map(edited_config).map(dump),
    yaml_values.map(dump),
    st.dictionaries(yaml_keys, yaml_values, max_size=5).map(dump),
    st.sampled_from(RAW_DOCUMENTS),
    st.binary(max_size=64),
    st.text(TEXT, max_size=64).map(str.encode),
    st.tuples(st.lists(edit, max_size=3).map(edited_config).map(dump), st.integers(0, 400)).map(lambda t: t[0][:t[1]]),
)


# -- --set and names -----------------------------------------------------------------------------------
@budget("set")
@given(items=assignment_items(), extra=st.sampled_from([(), ("--steps", "50"), ("--preset", "none")]))
def test_random_set_assignments(cli, small_budget, folders, items, extra):
    """... and the config.yaml of a run that accepted them re-runs it (``--config``)."""
    CASES["set"] += 1
    out = folders.new()
    argv = ["run", "qlearning", *QWORLD, *extra, "--out", out, "--no-progress"]
    for item in items:
        argv += ["--set", item]
    if check(cli(*argv)) is None:
        result = cli("run", "qlearning", "--config", out / "config.yaml", "--out", f"{out}-again", "--no-progress")
        assert check(result) is None, f"{out / 'config.yaml'} does not re-run: {result.error}"


GYM_IDS = sorted(__import__("gymnasium").registry)


@budget("names")
@given(algorithm=st.one_of(st.just("qlearning"), st.sampled_from(["qlearnin", "QLEARNING", "dqn", ""]), junk_text),
       env=st.one_of(st.sampled_from(GYM_IDS), st.sampled_from(["advdl/QWorld-v0", "advdl/QWorld-v9", "QWorld-v0",
                                                                "advdl/", "/", "-v0", "FrozenLake", ""]), junk_text),
       kwargs=st.lists(st.builds(lambda k, v: f"{k}={v}", keys, values), max_size=2))
def test_random_names(cli, small_budget, folders, algorithm, env, kwargs):
    """Unknown or unusual algorithms and environments (every Gymnasium id, most needing extras)."""
    CASES["names"] += 1
    check(cli("info", algorithm))
    argv = ["run", algorithm, "--env", env, "--steps", "50", "--out", folders.new(), "--no-progress"]
    for item in kwargs:
        argv += ["--env-kwarg", item]
    check(cli(*argv))


@budget("grid")
@given(grid=st.lists(st.one_of(
           st.builds(lambda k, vs: f"{k}={','.join(vs)}", keys, st.lists(values, max_size=4)),
           st.builds(lambda k, v: f"{k}={v}", st.sampled_from(REAL_KEYS), values), junk_text), min_size=1, max_size=3),
       seeds=st.one_of(st.just("0"), st.sampled_from(["0-2", "2-0", "0,0", "-1", "a", "", "0-", "1,2-3", " 1 "]),
                       st.lists(st.one_of(st.integers(0, 10**15).map(str), st.builds(
                           "{}-{}".format, st.integers(0, 10**15), st.integers(0, 10**15))), min_size=1,
                           max_size=3).map(",".join), junk_text),
       metric=st.one_of(st.none(), st.sampled_from(["eval_mean", "eval_men", "loss", ""]), junk_text))
def test_random_sweep_grids(cli, monkeypatch, folders, grid, seeds, metric):
    """--grid, --seeds and --metric are checked before Ray starts: with Ray missing, every case ends in one
    line (a setting's error, or the extra's name)."""
    CASES["grid"] += 1
    monkeypatch.setitem(sys.modules, "ray", None)
    for name in ("RAY_USAGE_STATS_ENABLED", "RAY_AIR_NEW_OUTPUT", "TUNE_DISABLE_SIGINT_HANDLER"):
        monkeypatch.setenv(name, os.environ.get(name, "0"))
    out = folders.new()
    argv = ["sweep", "qlearning", *QWORLD, "--steps", "50", "--seeds", seeds, "--out", out]
    for item in grid:
        argv += ["--grid", item]
    if metric is not None:
        argv += ["--metric", metric]
    result = cli(*argv)
    assert result.code != 0, str(result)
    check(result)
    assert not out.exists()


# -- config files -------------------------------------------------------------------------------------
@budget("config")
@given(document=documents, with_env=st.booleans(), command=st.sampled_from(["run", "sweep"]))
def test_random_config_files(cli, small_budget, monkeypatch, folders, document, with_env, command):
    CASES["config"] += 1
    case = folders.new()
    case.mkdir()
    path = case / "config.yaml"
    path.write_bytes(document)
    if command == "sweep":
        monkeypatch.setitem(sys.modules, "ray", None)
        for name in ("RAY_USAGE_STATS_ENABLED", "RAY_AIR_NEW_OUTPUT", "TUNE_DISABLE_SIGINT_HANDLER"):
            monkeypatch.setenv(name, os.environ.get(name, "0"))
        argv = ["sweep", "qlearning", "--config", path, "--grid", "gamma=0.5,0.9", "--out", case / "out"]
    else:
        argv = ["run", "qlearning", "--config", path, "--out", case / "out", "--no-progress"]
    result = cli(*argv, *(QWORLD if with_env else ()))
    check(result)
    assert not Path("PWNED").exists() and not (case / "PWNED").exists(), "a YAML tag ran a command"
    shutil.rmtree(case)


# -- damaged run folders ---------------------------------------------------------------------------------
def _main(*argv):
    from advdl.commands.main import main

    try:
        main([str(a) for a in argv])
    except SystemExit as exc:
        assert not exc.code, f"advdl {' '.join(map(str, argv))} failed with {exc.code}"


@pytest.fixture(scope="module")
def base_runs(tmp_path_factory):
    """Real Q-learning run folders, made once: finished, interrupted (checkpoint, no model), and a
    finished run on another environment (a Q-table of another shape, to swap files in from)."""
    from advdl.api.errors import RunInterrupted
    from advdl.loading.manager import get_registry
    from advdl.runs.start import train
    from advdl.settings.resolve import resolve

    root = tmp_path_factory.mktemp("base-runs")
    _main("run", "qlearning", *QWORLD, "--steps", 300, "--checkpoint-interval", 100, "--out", root / "finished",
          "--no-progress")
    _main("run", "qlearning", "--env", "FrozenLake-v1", "--preset", "none", "--steps", 200,
          "--final-eval-episodes", 2, "--eval-interval", 0, "--out", root / "lake", "--no-progress")

    class StopAfter:
        def on_episode_end(self, trainer, episode_return, episode_length):
            if trainer.episodes >= 40:
                trainer.request_stop()

    registry = get_registry()
    spec = registry.algorithm("qlearning")
    run_config, algo_config, preset = resolve(spec, env="advdl/QWorld-v0", run_flags={"steps": 300,
                                                                                       "checkpoint_interval": 50})
    with pytest.raises(RunInterrupted):
        train(spec, run_config, algo_config, root / "interrupted", registry, preset, progress=False,
              callbacks=[StopAfter()])
    assert not (root / "interrupted" / "summary.json").exists()
    return root


def _files(folder):
    return sorted(p for p in folder.rglob("*") if _regular(p))


def _regular(path):
    """A plain file, not one substituted by an earlier damage (writing a link's target or a FIFO would
    be the test's own doing, or hang)."""
    return not path.is_symlink() and path.is_file() and not any(p.is_symlink() for p in path.parents)


def _pick(folder, index):
    files = _files(folder)
    return files[index % len(files)] if files else None


def _mutate_state(path, where, value):
    """Rewrite a checkpoint (valid checksum) with one entry of its state deleted or replaced."""
    from advdl.api.errors import CheckpointError
    from advdl.runs import checkpoint

    try:
        state = checkpoint.load(path)
    except CheckpointError:  # damaged already by an earlier step of this case
        return
    target, keys = state, [k for k in where if k]
    for key in keys[:-1]:
        if not isinstance(target.get(key), dict):
            break
        target = target[key]
    else:
        key = keys[-1] if keys else "env_steps"
        if value == "<delete>":
            target.pop(key, None)
        else:
            target[key] = value
    step = int(path.stem.split("-")[-1])
    checkpoint.save(path.parent, step, state)


STATE_KEYS = ["env_steps", "episodes", "terminated_episodes", "wall_seconds", "agent", "rng", "env", "obs",
              "episode_return", "episode_length", "recent_returns", "recent_lengths", "metric_sums",
              "metric_count", "evaluations", "solved_episode", "best", "eval_seconds", "replay", "episode"]
damage = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.floats(0, 1)),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.none()),
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)),
                                                              min_size=1, max_size=4)),
    st.tuples(st.just("junk"), st.integers(0, 10**6), st.binary(max_size=80)),
    st.tuples(st.just("config"), st.none(), documents),
    st.tuples(st.just("summary"), st.none(), st.one_of(st.binary(max_size=40), yaml_values.map(
        lambda v: json.dumps(v, default=str).encode()))),
    st.tuples(st.just("csv"), st.sampled_from(["episodes.csv", "metrics.csv", "evaluations.csv"]),
              st.one_of(st.binary(max_size=60), st.sampled_from([b"", b"env_steps\n", b"env_steps\nx\n", b"a,b\n1,2\n",
                                                                 b"episode,env_steps\n1\n", b"env_steps\n1e999\n",
                                                                 b"env_steps\nnan\n", b'"unclosed\n']))),
    st.tuples(st.just("foreign"), st.sampled_from(["model.npz", "config.yaml", "checkpoint", "summary.json"]),
              st.none()),
    # a checkpoint with a valid checksum that does not fit: written by another advdl version (an entry missing)
    st.tuples(st.just("state"), st.tuples(st.sampled_from(STATE_KEYS), st.sampled_from(["", "q", "rng", "epsilon"])),
              st.just("<delete>")),
    st.tuples(st.just("rmtree"), st.sampled_from(["checkpoints", "tensorboard"]), st.none()),
    st.tuples(st.just("no-checkpoints"), st.none(), st.none()),
    # an entry of a valid checkpoint replaced by a value of the wrong type or range
    st.tuples(st.just("state"), st.tuples(st.sampled_from(STATE_KEYS), st.just("")),
              st.sampled_from([None, -5, "x", [[1, 2]], {"a": None}, 1.5, [], {}, 10**30])),
    # a file or folder substituted: a link out of the run folder (to the canary), a FIFO, a folder
    st.tuples(st.sampled_from(["link", "fifo", "folder"]),
              st.one_of(st.integers(0, 10**6), st.sampled_from(["checkpoints", "tensorboard"])), st.none()),
)
CANARY = b"a file outside the run folder: never written, never deleted\n"


def apply_damage(folder, lake, kind, where, what):
    from advdl.runs import checkpoint

    checkpoints = [p for p in checkpoint.list_checkpoints(folder / "checkpoints") if _regular(p)]
    fixed = {"config": "config.yaml", "summary": "summary.json", "csv": where}.get(kind)
    if fixed and os.path.lexists(folder / fixed) and not _regular(folder / fixed):
        return
    if kind in ("truncate", "delete", "flip", "junk"):
        path = _pick(folder, where)
        if path is None:
            return
        if kind == "truncate":
            path.write_bytes(path.read_bytes()[:int(path.stat().st_size * what)])
        elif kind == "delete":
            path.unlink()
        elif kind == "flip":
            data = bytearray(path.read_bytes())
            for position, mask in what:
                if data:
                    data[position % len(data)] ^= mask
            path.write_bytes(bytes(data))
        else:
            path.write_bytes(what)
    elif kind == "config":
        (folder / "config.yaml").write_bytes(what)
    elif kind == "summary":
        (folder / "summary.json").write_bytes(what)
    elif kind == "csv":
        (folder / where).write_bytes(what)
    elif kind == "foreign":
        if where == "checkpoint":
            if checkpoints:
                shutil.copyfile(checkpoint.list_checkpoints(lake / "checkpoints")[-1], checkpoints[-1])
        elif (lake / where).is_file() and (not os.path.lexists(folder / where) or _regular(folder / where)):
            shutil.copyfile(lake / where, folder / where)
    elif kind == "state":
        if checkpoints:
            _mutate_state(checkpoints[-1], where, what)
    elif kind in ("link", "fifo", "folder"):
        path = folder / where if isinstance(where, str) else _pick(folder, where)
        if path is None or not path.exists():
            return
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        if kind == "link":
            path.symlink_to(folder.parent / "canary", target_is_directory=isinstance(where, str))
        elif kind == "fifo":
            os.mkfifo(path)
        else:
            path.mkdir()
    elif kind == "rmtree":
        target = folder / where
        if target.is_dir() and not target.is_symlink():  # rmtree opens a FIFO an earlier damage made: it blocks
            shutil.rmtree(target, ignore_errors=True)
    elif kind == "no-checkpoints":
        for path in checkpoints:
            path.unlink()


@budget("damage")
@given(base=st.sampled_from(["finished", "interrupted"]), damages=st.lists(damage, min_size=1, max_size=3),
       steps=st.sampled_from([None, None, 100, 300, 450, 10**12]))
def test_damaged_run_folders(cli, small_budget, base_runs, folders, base, damages, steps):
    """eval and resume of a damaged copy of a real run folder (damaged, edited, or with links, FIFOs and
    folders substituted): success, or one line; the file beside the folder stays as it was."""
    CASES["damage"] += 1
    case = folders.new()
    folder = case / "run"
    shutil.copytree(base_runs / base, folder)
    (case / "canary").write_bytes(CANARY)
    for kind, where, what in damages:
        apply_damage(folder, base_runs / "lake", kind, where, what)
    result = cli("eval", folder, "--json", "--episodes", "2")
    if check(result) is None:
        assert math.isfinite(json.loads(result.out)["mean"])
    extra = () if steps is None else ("--steps", steps)
    check(cli("run", "--resume", folder, *extra, "--no-progress"))
    check(cli("run", "qlearning", "--resume", folder, *extra, "--no-progress"))
    assert (case / "canary").read_bytes() == CANARY  # nothing outside the run folder was written or deleted
    assert sorted(p.name for p in case.iterdir()) == ["canary", "run"]
    shutil.rmtree(case)


# -- the bugs the properties found: their minimal examples, as plain tests ---------------------------------
@pytest.mark.parametrize("document, words", [
    (b"algorithm: qlearning\xff\n", ("malformed", "byte 20")),  # not UTF-8: was a UnicodeDecodeError
    (b"\x00\x01\x02", ("malformed", "byte 0", "#x0000")),  # was two lines (PyYAML's "in <unicode string>")
    (b"0: 1\n", ("setting names are text", "0")),  # a number as a key: was a TypeError in did-you-mean
    (b"hyperparameters: {1.5: 2}\n", ("'hyperparameters'", "setting names are text", "1.5")),
    (b"preset: [1]\n", ("preset must be a name", "[1]")),  # was "unhashable type: 'list'"
    (b"env: {a: 1}\n", ("env must be a name",)),
    (f"hyperparameters: {{gamma: {alias_bomb(6)}}}\n".encode(), ("more than 100,000 values",)),  # was 142 MB, 6 s
    (b"env_kwargs: &x {a: *x}\n", ("more than 100,000 values",)),  # a recursive alias: was endless
])
def test_config_files_the_properties_found(cli, tmp_path, document, words):
    (tmp_path / "c.yaml").write_bytes(document)
    line = assert_user_error(cli("run", "qlearning", *QWORLD, "--config", "c.yaml", "--out", "out"), "c.yaml", *words)
    assert len(line) < 300


def test_control_characters_in_an_error_are_escaped(cli):
    """A key with a carriage return printed raw made the one error line two (or overwrote it on a terminal)."""
    line = assert_user_error(cli("run", "qlearning", *QWORLD, "--set", "0\r0=1", "--set", "x\x1b[2J=1"), "'0\\r0'")
    assert "\r" not in line and "\x1b" not in line


@pytest.mark.parametrize("args", [("--env-kwarg", "map_name=["), ("--env-kwarg", "is_slippery=\x1b"),
                                  ("--set", "env_kwargs=map_name={")])
def test_env_kwarg_that_is_not_yaml(cli, args):  # was a yaml ScannerError / ReaderError traceback
    assert_user_error(cli("run", "qlearning", "--env", "FrozenLake-v1", *args, "--out", "out"), "--env-kwarg", "YAML")


def _finished_copy(base_runs, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(base_runs / "finished", folder)
    return folder


def test_resume_with_a_log_without_its_header(cli, small_budget, base_runs, tmp_path):  # was a ValueError
    folder = _finished_copy(base_runs, tmp_path)
    (folder / "episodes.csv").write_bytes(b"a,b\n1,2\n")
    assert_user_error(cli("run", "--resume", folder, "--steps", 450, "--no-progress"), "episodes.csv", "damaged",
                      "env_steps")


def test_resume_with_damaged_log_rows(cli, small_budget, base_runs, tmp_path):
    """A row not a number where the learning curve reads it, or not UTF-8, is left out of the plot (was a
    ValueError or UnicodeDecodeError after training, before summary.json)."""
    folder = _finished_copy(base_runs, tmp_path)
    with open(folder / "episodes.csv", "ab") as fh:
        fh.write(b"999,5,abc,5,1\n998,6,\xff\xfe,5,1\n")
    result = cli("run", "--resume", folder, "--steps", 450, "--no-progress")
    assert result.code == 0, str(result)
    assert json.loads((folder / "summary.json").read_text())["env_steps"] == 450


@pytest.mark.parametrize("entry", ["env_steps", "metric_sums", "recent_returns", "agent"])
def test_resume_from_a_checkpoint_missing_an_entry(cli, base_runs, tmp_path, entry):
    """A checkpoint with a valid checksum written by another advdl version (an entry missing): was a KeyError."""
    from advdl.runs import checkpoint

    folder = _finished_copy(base_runs, tmp_path)
    newest, *older = reversed(checkpoint.list_checkpoints(folder / "checkpoints"))
    _mutate_state(newest, (entry,), "<delete>")  # the older intact checkpoint is used instead, saying so
    result = cli("run", "--resume", folder, "--steps", 450, "--no-progress")
    assert result.code == 0 and "does not fit" in result.err and "resuming from the older checkpoint" in result.err
    folder = _finished_copy(base_runs, tmp_path / "all")
    for path in checkpoint.list_checkpoints(folder / "checkpoints"):
        _mutate_state(path, (entry,), "<delete>")
    assert_user_error(cli("run", "--resume", folder, "--steps", 450, "--no-progress"), "checkpoint", "does not fit")


def test_a_greedy_policy_stuck_in_an_env_without_a_time_limit(cli, small_budget):
    """CliffWalking-v1 has no time limit: a final evaluation whose greedy policy never reaches the goal
    stepped forever (found by test_random_names); its episodes now end after MAX_EPISODE_STEPS."""
    result = cli("run", "qlearning", "--env", "CliffWalking-v1", "--steps", 50, "--out", "out", "--no-progress")
    assert result.code == 0, str(result)
    assert json.loads(Path("out/summary.json").read_text())["eval"]["mean"] == -2000  # -1 per step, 2,000 steps


@pytest.mark.parametrize("command", [("run", "qlearning", *QWORLD), ("sweep", "qlearning", *QWORLD)])
def test_a_range_of_a_trillion_seeds(cli, monkeypatch, command):
    """--seeds 0-999999999999 made a list of a trillion seeds (memory, then a MemoryError traceback)."""
    monkeypatch.setitem(sys.modules, "ray", None)
    assert_user_error(cli(*command, "--seeds", "0-999999999999", "--out", "out"), "--seeds", "more than 10,000")


def test_resume_from_another_environments_checkpoint(cli, base_runs, tmp_path):
    """FrozenLake's Q-table (16 x 4) in a Q-world run (6 x 4) was loaded without a word, and trained on."""
    from advdl.runs import checkpoint

    folder = _finished_copy(base_runs, tmp_path)
    shutil.copyfile(checkpoint.list_checkpoints(base_runs / "lake" / "checkpoints")[-1],
                    checkpoint.list_checkpoints(folder / "checkpoints")[-1])
    assert_user_error(cli("run", "--resume", folder, "--steps", 450, "--no-progress"), "Q-table", "(16, 4)",
                      "another environment")


@pytest.mark.parametrize("command", [("eval",), ("run", "--resume")])
def test_run_folder_config_with_env_kwargs_not_a_mapping(cli, base_runs, tmp_path, command):
    """A run folder's config.yaml with env_kwargs: 1 was an AttributeError ('int' object has no attribute 'items')."""
    folder = _finished_copy(base_runs, tmp_path)
    text = (folder / "config.yaml").read_text()
    (folder / "config.yaml").write_text(text.replace("env_kwargs: {}", "env_kwargs: 1"))
    assert_user_error(cli(*command, folder), "config.yaml", "env_kwargs", "expected list of str")


# -- the numeric extremes of every option of every algorithm ---------------------------------------------------
EXTREMES = ["0", "-1", str(2**31), str(2**63), str(10**20), "1e308", "nan", "inf", "-inf", "1e-308"]
NEVER_TAKEN = {"nan", "inf", "-inf", "1e308"}  # by any number setting: NaN, beyond float32, beyond 64 bits
NO_SUCH = {"rl": ("--env", "advdl_test/NoSuchEnv-v0"), "data": ("--data", "no_such_dataset")}


def _number_kind(tp):
    """'int', 'float' or 'ints' (a list of int) for a setting's type (optional or not); None for the rest."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        tp = next(a for a in typing.get_args(tp) if a is not type(None))
    if typing.get_origin(tp) is tuple:
        return "ints" if typing.get_args(tp)[:1] == (int,) else None
    return {int: "int", float: "float"}.get(tp)


@functools.cache
def numeric_settings():
    """(algorithm, family, setting, kind) for every number setting (hyperparameter or run setting) of every
    algorithm the plugins register."""
    from advdl.loading.manager import get_registry

    out = []
    for name, spec in sorted(get_registry().algorithms.items()):
        for cls in (spec.config, run_config_class(spec)):
            out += [(name, spec.family, f.name, kind) for f, tp in fields_of(cls) if (kind := _number_kind(tp))]
    return out


@budget("extremes")
@given(case=st.deferred(lambda: st.sampled_from(numeric_settings())), value=st.sampled_from(EXTREMES),
       as_flag=st.booleans())
def test_numeric_extremes_of_every_option(cli, small_budget, folders, case, value, as_flag):
    """0, -1, 2**31, 2**63, 10**20, 1e308, NaN, +-inf and 1e-308 in every number setting of every algorithm:
    exit 0 or one line; NaN, the infinities and 1e308 always refused, naming the setting, as integers beyond
    64 bits. Q-learning trains (small_budget); the algorithms that would start TensorFlow run on an environment
    or a dataset nobody registered, so the command ends right after the settings were checked (their real runs:
    test_the_riskiest_extremes_train_or_stop_in_one_line)."""
    CASES["extremes"] += 1
    algorithm, family, name, kind = case
    if as_flag and name not in RUN_KEYS:
        setting = ("--" + name.replace("_", "-"), value)
    else:
        setting = ("--set", f"{name}={value}")
    target = QWORLD if algorithm == "qlearning" else NO_SUCH["rl" if family == "rl" else "data"]
    result = cli("run", algorithm, *target, *setting, "--out", folders.new(), "--no-progress")
    line = check(result)
    refused = value in NEVER_TAKEN or (kind != "float" and value in (str(2**63), str(10**20)))
    if refused:
        assert line is not None and name in line, f"{algorithm} took {name}={value}: {result}"
    if line is not None and target != QWORLD and "unknown" not in line:  # refused before the target was looked up
        assert name in line, f"the error does not name {name}: {line}"


SYNTHETIC, CARTPOLE_ENV = ("--data", "synthetic_mnist"), ("--env", "CartPole-v1")


@pytest.mark.parametrize("algorithm, target, setting, words", [
    ("dqn", CARTPOLE_ENV, f"buffer_size={2**62}", ("buffer_size", "of memory needed")),
    ("dqn", CARTPOLE_ENV, f"gradient_steps={2**62}", ("gradient_steps x batch_size", "of memory needed")),
    ("dqn", CARTPOLE_ENV, f"hidden_sizes=64,{2**31}", ("hidden_sizes", "of memory needed")),
    ("a2c", CARTPOLE_ENV, f"n_steps={2**62}", ("n_steps x n_envs", "of memory needed")),
    ("a2c", CARTPOLE_ENV, f"n_envs={2**31}", ("n_envs must be in 1..1,024",)),
    ("reinforce", CARTPOLE_ENV, f"hidden_sizes={2**31}", ("hidden_sizes", "of memory needed")),
    ("cnn", SYNTHETIC, f"kernel_size={2**31}", ("kernel_size", "to nothing")),
    ("autoencoder", SYNTHETIC, f"batch_size={2**63 - 1}", None),  # an epoch in one batch: it trains
], ids=lambda v: v if isinstance(v, str) and "=" in v else None)
def test_the_riskiest_extremes_train_or_stop_in_one_line(cli, small_budget, tmp_path, algorithm, target, setting,
                                                         words):
    """Sizes that parse and pass their configs' checks, through real runs: a buffer, a sample, networks or a
    rollout that cannot fit in memory stop in one line before anything is allocated; a batch beyond the
    dataset is the whole dataset."""
    result = cli("run", algorithm, *target, "--set", setting, "--epochs" if target == SYNTHETIC else "--steps",
                 1 if target == SYNTHETIC else 300, "--out", tmp_path / "out", "--no-progress")
    if words is None:
        assert result.code == 0, str(result)
    else:
        assert_user_error(result, *words)
        assert check(result) is not None
