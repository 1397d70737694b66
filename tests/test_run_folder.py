"""What a run leaves behind: every file of the run folder, re-running from config.yaml, eval --record."""

import csv
import json

import imageio.v2 as imageio
import yaml

from advdl.commands.main import main


def run_cli(*argv):
    try:
        main([str(a) for a in argv])
    except SystemExit as exc:
        return exc.code
    return 0


def test_run_folder_holds_everything(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli("run", "qlearning", "--env", "advdl/QWorld-v0", "--out", out, "--no-progress") == 0
    names = {p.name for p in out.iterdir()}
    assert {"config.yaml", "metrics.csv", "episodes.csv", "evaluations.csv", "tensorboard", "checkpoints",
            "model.npz", "learning_curve.png", "summary.json"} <= names
    summary = json.loads((out / "summary.json").read_text())
    for key in ("algorithm", "env", "seed", "env_steps", "wall_seconds", "steps_per_second"):
        assert key in summary
    assert summary["eval"] == {"mean": 100.0, "std": 0.0, "episodes": 1, "returns": [100.0]}
    assert summary["env_steps"] == 20_000 and summary["preset"] == "advdl/QWorld-v0"
    with open(out / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 20 and rows[-1]["env_steps"] == "20000" and "td_error" in rows[0]
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    assert (out / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Finished qlearning" in capsys.readouterr().out


def test_tensorboard_events_are_readable(tmp_path):
    """Scalars as training goes, and for the HPARAMS tab the settings and the final metrics."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    out = tmp_path / "run"
    run_cli("run", "qlearning", "--env", "advdl/QWorld-v0", "--steps", 3000, "--set", "gamma=0.8", "--out", out,
            "--no-progress")
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    assert "train/return_mean" in events.Tags()["scalars"]
    assert [e.step for e in events.Scalars("train/return_mean")][-1] == 3000
    content = events.SummaryMetadata(metadata.SESSION_START_INFO_TAG).plugin_data.content
    start = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    hparams = {k: v.string_value or v.number_value or v.bool_value for k, v in start.hparams.items()}
    assert hparams["algorithm"] == "qlearning" and hparams["env"] == "advdl/QWorld-v0"
    assert hparams["gamma"] == 0.8 and hparams["steps"] == 3000 and hparams["seed"] == 0
    summary = json.loads((out / "summary.json").read_text())
    assert events.Scalars("hparams/eval_mean")[-1].value == summary["eval"]["mean"]
    assert events.Scalars("hparams/eval_mean")[-1].step == 3000


def test_config_yaml_re_runs_the_same_run(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    run_cli("run", "qlearning", "--env", "FrozenLake-v1", "--env-kwarg", "is_slippery=false", "--steps", 4000,
            "--set", "gamma=0.95", "--seed", 3, "--out", first, "--no-progress")
    config = yaml.safe_load((first / "config.yaml").read_text())
    assert config["algorithm"] == "qlearning" and config["env_kwargs"] == {"is_slippery": False}
    assert config["hyperparameters"]["gamma"] == 0.95 and config["seed"] == 3
    assert run_cli("run", "qlearning", "--config", first / "config.yaml", "--out", second, "--no-progress") == 0
    assert yaml.safe_load((second / "config.yaml").read_text()) == config
    assert (first / "episodes.csv").read_text() == (second / "episodes.csv").read_text()


def test_eval_record_writes_an_animation(tmp_path, capsys):
    out, gif = tmp_path / "run", tmp_path / "episode.gif"
    run_cli("run", "qlearning", "--env", "advdl/QWorld-v0", "--out", out, "--no-progress")
    capsys.readouterr()
    assert run_cli("eval", out, "--episodes", 3, "--json", "--record", gif) == 0
    assert json.loads(capsys.readouterr().out) == {"mean": 100.0, "std": 0.0, "episodes": 3}
    frames = imageio.mimread(gif)
    assert len(frames) == 3  # start, state 1, the goal: the optimal two-step path


def test_episode_budget_and_terminated_episodes(tmp_path):
    # FrozenLake ends at a hole or the goal (terminated) or after 5 steps here (truncated)
    out = tmp_path / "run"
    assert run_cli("run", "qlearning", "--env", "FrozenLake-v1", "--preset", "none", "--episodes", 300,
                   "--env-kwarg", "max_episode_steps=5", "--out", out, "--no-progress") == 0
    summary = json.loads((out / "summary.json").read_text())
    with open(out / "episodes.csv", newline="") as fh:
        episodes = list(csv.DictReader(fh))
    assert summary["episodes"] == len(episodes) == 300 and summary["env_steps"] < 100_000
    terminated = [int(e["terminated"]) for e in episodes]
    assert summary["terminated_episodes"] == sum(terminated) and 0 < sum(terminated) < 300
    assert all(int(e["length"]) == 5 for e, t in zip(episodes, terminated) if not t)
