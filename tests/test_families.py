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
    """A third-party family: dataset runs whose Runner says so in its report line."""

    @hookimpl
    def advdl_register_families(self, register):
        register(FamilySpec("mini", runner=f"{__name__}:MiniRunner",
                            settings="advdl.datasets.settings:DataRunConfig", target="data"))

    @hookimpl
    def advdl_register_algorithms(self, register):
        from advdl_plugins.supervised import MLPConfig

        register(AlgorithmSpec(name="mini-mlp", family="mini", summary="The mlp, in a family of its own.",
                               config=MLPConfig, factory="advdl_plugins.supervised.classifier:Classifier"))


def _mini_runner():
    from advdl.datasets.runner import DatasetRunner

    class MiniRunner(DatasetRunner):
        def report(self, summary, run_dir):
            return "mini: " + super().report(summary, run_dir)

    return MiniRunner


def __getattr__(name):  # the runner class is imported by name, as a third party's would be
    if name == "MiniRunner":
        return _mini_runner()
    raise AttributeError(name)


def test_a_third_party_family_runs_through_the_one_skeleton(capsys, tmp_path):
    registry = build_registry(extra_plugins=[MiniFamily()])
    assert registry.algorithms["mini-mlp"].family_spec.name == "mini" and not registry.errors
    code, out, err = run_cli(registry, capsys, "run", "mini-mlp", "--data", "synthetic_mnist", "--epochs", 1,
                             "--no-progress", "--out", tmp_path / "run")
    assert code == 0, err
    assert out.startswith("mini: Finished mini-mlp on synthetic_mnist: 1 epochs")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["final"]["test_accuracy"] > 0.5 and (tmp_path / "run" / "config.yaml").is_file()


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
    assert code == 0 and "mini-mlp" in {a["name"] for a in json.loads(out)["algorithms"]}


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
