"""The loop skeleton both trainers share: stops, callbacks, the collectors table (no TensorFlow)."""

from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest

from advdl.datasets.settings import DataRunConfig
from advdl.runs import checkpoint


def test_the_rl_trainer_re_exports_the_loop_exceptions():
    from advdl.rl import trainer
    from advdl.runs import loop

    assert trainer.Interrupted is loop.Interrupted and trainer.Diverged is loop.Diverged
    assert trainer.check_finite is loop.check_finite
    stop = loop.Interrupted(12, "ckpt")
    assert stop.step == 12 and stop.path == "ckpt"
    loop.check_finite({"loss": float("nan")}, 3, "continue")
    with pytest.raises(loop.Diverged, match="loss became inf at step 3"):
        loop.check_finite({"ok": 1.0, "loss": float("inf")}, 3, "stop")


def test_every_data_kind_has_a_collector_with_its_checkpoint_part():
    from advdl.api.interfaces import ReplaySchedule, RolloutSchedule
    from advdl.rl.collectors import COLLECTORS

    obs_space, action_space = gym.spaces.Box(-1, 1, (3,)), gym.spaces.Discrete(2)
    agent = SimpleNamespace(replay_schedule=lambda: ReplaySchedule(8, 1, 0, 1, 1),
                            rollout_schedule=lambda: RolloutSchedule(2, 3))
    parts = {}
    for kind, collector in COLLECTORS.items():
        n = collector.n_envs(agent)
        c = collector(agent, obs_space, action_space, n)
        batches = [c.add(i, np.zeros(3), 1, 1.0, np.ones(3), False, i == 0) for i in range(n)]
        parts[kind] = (n, list(c.state()), batches, c.after_step(0, n, 0, False, np.random.default_rng(0)))
    assert parts["replay"][:2] == (1, ["replay"]) and parts["replay"][3].obs.shape == (1, 1, 3)  # due every step
    assert parts["rollouts"][:2] == (2, ["rollout"]) and parts["rollouts"][3] is None  # 1 of 3 steps
    assert parts["episodes"][:2] == (1, ["episode"])
    assert parts["episodes"][2][0].rewards.tolist() == [1.0]  # truncated: the episode is a batch at once
    n, keys, (transition,), after = parts["transitions"]
    assert (n, keys, after) == (1, [], None) and transition.reward == 1.0 and transition.truncated is True


# -- dataset runs ------------------------------------------------------------------------------------
class CountingModel:
    """A numpy stand-in for a model: its loss is the batch's mean label."""

    batch_size = 4
    metric_names = ("loss",)
    test_metric_names = ("test_loss",)

    def __init__(self):
        self.seen, self.epoch_ends = 0, []

    def train_step(self, images, labels):
        self.seen += len(images)
        return {"loss": float(np.mean(labels))}

    def evaluate(self, x, y):
        return {"test_loss": float(self.seen)}

    def on_epoch_end(self, epoch):
        self.epoch_ends.append(epoch)

    def get_state(self):
        return {"seen": self.seen}

    def set_state(self, state):
        self.seen = state["seen"]


class Recorder:
    def __init__(self, stop_log_at=None, stop_evaluation=False):
        self.stop_log_at, self.stop_evaluation, self.events = stop_log_at, stop_evaluation, []

    def on_start(self, run):
        self.events.append(("start", run.step))

    def on_log(self, run, row):
        self.events.append(("log", row["step"]))
        assert run.learner is run.model and run.config.epochs == 3 and run.run_dir.is_dir()
        return row["step"] == self.stop_log_at

    def on_evaluation(self, run, row):
        self.events.append(("evaluation", row["step"]))
        return self.stop_evaluation


def data_trainer(run_dir, callbacks=()):
    from advdl.datasets.trainer import DataTrainer

    data = SimpleNamespace(x_train=np.arange(40.0).reshape(20, 2), y_train=np.arange(20.0),
                           x_test=np.zeros((2, 2)), y_test=np.zeros(2))
    run_dir.mkdir(exist_ok=True)
    config = DataRunConfig(data="fake", epochs=3, log_interval=2)
    return DataTrainer(CountingModel(), data, config, run_dir, progress=False, callbacks=callbacks)


def test_a_callback_ending_a_dataset_run_part_way_evaluates_the_epoch_and_checkpoints(tmp_path):
    recorder = Recorder(stop_log_at=8)  # 5 batches an epoch: 3 batches into the second
    trainer = data_trainer(tmp_path / "run", [recorder])
    trainer.train()  # no Interrupted: a normal end
    assert trainer.step == 8 and [row["step"] for row in trainer.history] == [5, 8]
    assert trainer.model.epoch_ends == [0, 1]
    assert recorder.events == [("start", 0), ("log", 2), ("log", 4), ("evaluation", 5), ("log", 6), ("log", 8),
                               ("evaluation", 8)]
    state = checkpoint.load_latest(tmp_path / "run" / "checkpoints")
    assert state["step"] == 8 and len(state["history"]) == 2 and state["log_rows"] == {"metrics.csv": 4,
                                                                                        "epochs.csv": 2}
    # resumed before its summary was written: straight to the end, nothing trained again
    again = data_trainer(tmp_path / "run")
    again.load_checkpoint(state)
    again.train()
    assert again.step == 8 and again.model.seen == state["model"]["seen"] and len(again.history) == 2


def test_a_callback_ending_a_dataset_run_at_an_epoch_end(tmp_path):
    recorder = Recorder(stop_evaluation=True)
    trainer = data_trainer(tmp_path / "run", [recorder])
    trainer.train()
    assert trainer.step == 5 and len(trainer.history) == 1
    assert [p.name for p in checkpoint.list_checkpoints(tmp_path / "run" / "checkpoints")] == ["step-0000000005.ckpt"]


def test_request_stop_interrupts_a_dataset_run_with_a_checkpoint(tmp_path):
    from advdl.rl.trainer import Interrupted

    class StopAt(Recorder):
        def on_log(self, run, row):
            if row["step"] == 6:
                run.request_stop()

    trainer = data_trainer(tmp_path / "run", [StopAt()])
    with pytest.raises(Interrupted) as stopped:
        trainer.train()
    assert stopped.value.step == 6 and trainer.history[-1]["step"] == 5
    full = data_trainer(tmp_path / "full")
    full.train()
    resumed = data_trainer(tmp_path / "run")
    resumed.load_checkpoint(checkpoint.load_latest(tmp_path / "run" / "checkpoints"))
    resumed.train()
    drop = ("wall_seconds", "images_per_second")
    assert [{k: v for k, v in r.items() if k not in drop} for r in resumed.history] == \
        [{k: v for k, v in r.items() if k not in drop} for r in full.history]
