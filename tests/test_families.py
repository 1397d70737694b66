"""Run families, plugin commands and SB3 counterparts, registered through the hooks a third party uses."""

import json

import click
import pytest

from advdl.api import AlgorithmSpec, Baseline, FamilySpec, hookimpl
from advdl.commands.main import main
from advdl.loading.manager import build_registry


def run_cli(registry, capsys, *argv):
    """``advdl ARGV`` on ``registry``: (exit code, stdout, stderr)."""
    try:
        main([str(a) for a in argv], registry)
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


class MiniFamily:
    """A third-party family: env runs whose Runner says so in its report line."""

    @hookimpl
    def advdl_register_families(self, register):
        register(FamilySpec("mini", runner=f"{__name__}:MiniRunner", settings="advdl.rl.settings:RunConfig",
                            target="env"))

    @hookimpl
    def advdl_register_algorithms(self, register):
        from advdl_plugins.qlearning import QLearningConfig

        register(AlgorithmSpec(name="mini-q", family="mini", summary="Q-learning, in a family of its own.",
                               config=QLearningConfig, factory="advdl_plugins.qlearning.agent:QLearningAgent"))


def _mini_runner():
    from advdl.rl.runner import EnvRunner

    class MiniRunner(EnvRunner):
        def report(self, summary, run_dir):
            return "mini: " + super().report(summary, run_dir)

    return MiniRunner


def __getattr__(name):  # the runner class is imported by name, as a third party's would be
    if name == "MiniRunner":
        return _mini_runner()
    raise AttributeError(name)


def test_a_third_party_family_runs_through_the_one_skeleton(capsys, tmp_path):
    registry = build_registry(extra_plugins=[MiniFamily()])
    assert registry.algorithms["mini-q"].family_spec.name == "mini" and not registry.errors
    code, out, err = run_cli(registry, capsys, "run", "mini-q", "--env", "advdl/QWorld-v0", "--steps", 5000,
                             "--no-progress", "--out", tmp_path / "run")
    assert code == 0, err
    assert out.startswith("mini: Finished mini-q on advdl/QWorld-v0: 5000 steps")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["eval"]["mean"] == 100.0 and (tmp_path / "run" / "config.yaml").is_file()  # the goal, learned


def test_an_algorithm_of_an_unregistered_family_is_its_plugin_error():
    class Orphan:
        @hookimpl
        def advdl_register_algorithms(self, register):
            from advdl_plugins.supervised import MLPConfig

            register(AlgorithmSpec(name="orphan", family="nowhere", summary="x", config=MLPConfig,
                                   factory="advdl_plugins.supervised.classifier:Classifier"))

    registry = build_registry(extra_plugins=[Orphan()])
    assert "orphan" not in registry.algorithms and "dqn" in registry.algorithms
    assert any("family must be one of" in e["error"] and "nowhere" not in e["error"] for e in registry.errors)


class Commands:
    @hookimpl
    def advdl_register_commands(self, cli):
        @click.command("hello", help="Say hello.")
        @click.argument("name")
        def hello(name):
            click.echo(f"hello {name}")

        @click.command("list", help="A verb advdl has.")
        def clash():
            click.echo("the plugin's list")

        cli.add_command(hello)
        cli.add_command(clash)


def test_a_plugin_adds_a_verb_and_cannot_replace_advdl_s_own(capsys):
    registry = build_registry(extra_plugins=[Commands()])
    assert run_cli(registry, capsys, "hello", "world")[:2] == (0, "hello world\n")
    code, out, _ = run_cli(registry, capsys, "--help")
    assert code == 0 and "hello" in out and "Say hello." in out
    code, out, _ = run_cli(registry, capsys, "list")
    assert code == 0 and "the plugin's list" not in out
    assert "command 'list' is advdl's own" in out  # listed under the broken plugins


def test_the_command_line_uses_the_registry_it_is_given(capsys):
    registry = build_registry(extra_plugins=[MiniFamily()])
    code, out, _ = run_cli(registry, capsys, "list", "--json")
    assert code == 0 and "mini-q" in {a["name"] for a in json.loads(out)["algorithms"]}


def test_an_algorithm_declares_its_sb3_counterpart():
    from advdl.experiments.compare import counterpart, sb3_settings
    from advdl.settings.resolve import resolve

    class Declared:
        @hookimpl
        def advdl_register_algorithms(self, register):
            from advdl_plugins.dqn import DQNConfig

            register(AlgorithmSpec(name="my-dqn", family="rl", summary="x", config=DQNConfig,
                                   factory="advdl_plugins.dqn.agent:DQNAgent",
                                   baseline=Baseline("DQN", "advdl_plugins.dqn.baseline:sb3_settings", "mine")))

    registry = build_registry(extra_plugins=[Declared()])
    spec = registry.algorithm("my-dqn")
    run_config, config, _ = resolve(spec, env="CartPole-v1")
    assert counterpart(spec) == ("DQN", "mine")
    assert sb3_settings(spec, run_config, config, 475.0)["kwargs"]["batch_size"] == config.batch_size
    with pytest.raises(Exception, match="declares no Stable-Baselines3 counterpart"):
        counterpart(registry.algorithm("qlearning"))


class Recorder:
    """A plugin's callback on every run: what it was called with, in order."""

    calls = []

    @hookimpl
    def advdl_run_callbacks(self, algorithm, config, run_dir):
        return [self]

    def on_start(self, run):
        self.calls.append(("start", run.step, run.run_dir.name, type(run.learner).__name__))

    def on_log(self, run, row):
        self.calls.append(("log", run.step))

    def on_evaluation(self, run, record):
        self.calls.append(("evaluation", run.step, sorted(record)))

    def on_end(self, run, summary):
        self.calls.append(("end", summary["algorithm"]))


@pytest.mark.parametrize("argv, learner, evaluations", [
    (("qlearning", "--env", "advdl/QWorld-v0", "--steps", 2000, "--eval-interval", 1000), "QLearningAgent", 2),
    (("mlp", "--data", "synthetic_mnist", "--epochs", 2, "--set", "log_interval=5"), "Classifier", 2),
], ids=["env run", "dataset run"])
def test_one_callback_protocol_for_every_family(capsys, tmp_path, argv, learner, evaluations):
    Recorder.calls = []
    registry = build_registry(extra_plugins=[Recorder()])
    code, _, err = run_cli(registry, capsys, "run", *argv, "--no-progress", "--out", tmp_path / "run")
    assert code == 0, err
    calls = Recorder.calls
    assert calls[0] == ("start", 0, "run", learner) and calls[-1] == ("end", argv[0])
    kinds = [c[0] for c in calls]
    assert kinds.count("evaluation") == evaluations and kinds.count("log") >= 1 and kinds.count("end") == 1
    steps = [c[1] for c in calls[1:-1]]
    assert steps == sorted(steps)  # called as the run advances


@pytest.mark.parametrize("mean, threshold, far", [
    (9.15, 475.0, True), (300.0, 475.0, False), (-500.0, -100.0, True), (-120.0, -100.0, False),
    (0.0, 0.7, True), (0.6, 0.7, False)])
def test_a_run_far_below_its_threshold_is_told_where_to_look(mean, threshold, far):
    from advdl.rl.runner import far_below

    assert far_below(mean, threshold) == far


def test_the_final_line_of_a_run_that_did_not_learn_points_to_presets_and_sweeps(capsys, tmp_path):
    registry = build_registry()
    code, out, err = run_cli(registry, capsys, "run", "qlearning", "--env", "FrozenLake-v1", "--preset", "none",
                             "--steps", 50, "--no-progress", "--out", tmp_path / "run")
    assert code == 0, err
    last = out.strip().splitlines()[-1]
    assert "far below FrozenLake-v1's threshold 0.7" in last and "advdl info qlearning" in last
    assert "advdl sweep qlearning" in last
