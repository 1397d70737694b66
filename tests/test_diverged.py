"""A loss that turns NaN or infinite stops the run with a message naming the step and the metric,
keeping the last good checkpoint; ``on_nan=continue`` trains on."""

import json
import math

import numpy as np
import pytest
from conftest import assert_user_error
from test_resume import assert_same_run, rows, run_small

from advdl.api.errors import TrainingDiverged
from advdl.loading.manager import get_registry
from advdl.runs import checkpoint
from advdl.runs.start import resume

EXPLODING_MLP = ("run", "mlp", "--data", "synthetic_mnist", "--epochs", 1, "--optimizer", "sgd",
                 "--learning-rate", 1e12, "--no-progress")


def test_an_exploding_loss_stops_the_run_with_its_step_and_metric(cli, tmp_path):
    result = cli(*EXPLODING_MLP, "--out", tmp_path / "run")
    line = assert_user_error(result, "loss became nan at batch", "no checkpoint was written before it", "on_nan=continue")
    assert result.code == 3
    assert not (tmp_path / "run" / "summary.json").exists()
    assert line.split("at batch ")[1].split(":")[0].isdigit()


def test_on_nan_continue_trains_on(cli, tmp_path):
    result = cli(*EXPLODING_MLP, "--set", "on_nan=continue", "--out", tmp_path / "run")
    assert result.code == 0, str(result)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert math.isnan(summary["history"][0]["loss"])  # the NaN was kept in the record, not hidden


def test_the_last_good_checkpoint_is_kept_and_resumes_exactly(tmp_path, monkeypatch):
    """A NaN injected at step 1,600 of a 3,000-step Q-learning run (checkpoints every 1,000 steps):
    the run stops there, nothing after step 1,000 is kept, and --resume (the NaN gone) ends exactly
    like a run that never saw it."""
    from advdl_plugins.qlearning.agent import QLearningAgent

    run_small("qlearning", tmp_path / "clean")
    original, calls = QLearningAgent.train_step, [0]

    def poisoned(self, transition):
        calls[0] += 1
        metrics = original(self, transition)
        return metrics | {"td_error": float("nan")} if calls[0] >= 1600 else metrics

    monkeypatch.setattr(QLearningAgent, "train_step", poisoned)
    with pytest.raises(TrainingDiverged, match=r"td_error became nan at step 1600: .*step-0000001000\.ckpt"):
        run_small("qlearning", tmp_path / "cut")
    saved = checkpoint.list_checkpoints(tmp_path / "cut" / "checkpoints")
    assert saved[-1].name == "step-0000001000.ckpt"
    assert all(np.isfinite(float(r["td_error"])) for r in rows(tmp_path / "cut" / "metrics.csv") if r["td_error"])
    monkeypatch.setattr(QLearningAgent, "train_step", original)
    resume(tmp_path / "cut", get_registry(), progress=False)
    assert_same_run(tmp_path / "clean", tmp_path / "cut")
