"""The training loop for models on datasets (supervised and generative): one loop, owned by the core.

Every epoch visits the training images in an order drawn from (seed, epoch), so a resumed run
knows the order without storing it; the checkpoint holds the model's state (weights, optimizer,
RNG variables), the position inside the epoch and the metric accumulators, so a resumed run
continues exactly where the interrupted one stopped.
"""

import math
import time
from pathlib import Path

import numpy as np

from advdl.api.errors import ConfigError
from advdl.rl.trainer import Interrupted, check_finite
from advdl.runs import checkpoint
from advdl.runs import statecheck as sc
from advdl.runs.logs import CsvLog, Progress, TensorBoardWriter, counted_rows, recover_logs

STATE_SCHEMA = {  # what load_checkpoint reads (the model's own part checks itself)
    "step": sc.count, "wall_seconds": sc.seconds, "train_seconds": sc.seconds, "model": sc.anything,
    "metric_sums": sc.dict_of(sc.number), "metric_count": sc.count, "epoch_sums": sc.dict_of(sc.number),
    "epoch_count": sc.count, "history": sc.list_of(sc.dict_of(sc.anything)),
}
LOGS = (("metrics.csv", "step"), ("epochs.csv", "step"))


def check_state(state, path):
    """The checks of a loaded dataset-run checkpoint (``checkpoint.load_latest``'s ``check``)."""
    sc.check(state, STATE_SCHEMA, path)


class DataTrainer:
    def __init__(self, model, dataset, run_config, run_dir, progress=True, callbacks=(), strategy=None):
        self.model, self.data, self.config = model, dataset, run_config
        if strategy is None:
            self.train_step, self.replicas = model.train_step, 1
        else:  # a tf.distribute strategy (the model was built in its scope)
            from advdl.datasets.distribute import DistributedStep

            self.train_step = DistributedStep(strategy, model)
            self.replicas = self.train_step.replicas
        self.callbacks = list(callbacks)  # on_log(trainer, row) and on_epoch_end(trainer, row); True stops
        self.run_dir = Path(run_dir)
        self.show_progress = progress
        self.batches_per_epoch = math.ceil(len(dataset.x_train) / model.batch_size)
        self.total_steps = self.batches_per_epoch * run_config.epochs
        self.step = 0  # batches trained so far
        self.wall_before = 0.0
        self.train_seconds = 0.0  # inside train_step calls only (the images/s figure)
        self.metric_sums, self.metric_count = {}, 0  # since the last metrics.csv row
        self.epoch_sums, self.epoch_count = {}, 0  # since the epoch began
        self.history = []  # one row per epoch
        self.log_rows = {}  # CSV log -> data rows it held at the checkpoint this run resumed from
        self._stop = False
        self._logs_open = False

    def request_stop(self):
        self._stop = True

    def _step(self, images, labels):
        """One training step; a batch whose activations do not fit in memory is one line naming batch_size."""
        try:
            return self.train_step(images, labels)
        except Exception as exc:
            if not (isinstance(exc, MemoryError) or type(exc).__name__ == "ResourceExhaustedError"):
                raise
            raise ConfigError(f"a training step on {len(images):,} images ran out of memory ({type(exc).__name__}); "
                              f"lower batch_size") from None

    def order(self, epoch):
        return np.random.default_rng([self.config.seed, epoch]).permutation(len(self.data.x_train))

    def train(self):
        cfg, bs = self.config, self.model.batch_size
        x, y = self.data.x_train, self.data.y_train
        self._open_logs()
        self._segment_start = time.perf_counter()
        progress = Progress(self.total_steps, self.step, self.show_progress, unit="batch")
        try:
            while self.step < self.total_steps:
                epoch, batch = divmod(self.step, self.batches_per_epoch)
                order = self.order(epoch)
                for b in range(batch, self.batches_per_epoch):
                    if self._stop:
                        raise Interrupted(self.step, self.save_checkpoint())
                    index = order[b * bs:(b + 1) * bs]
                    started = time.perf_counter()
                    metrics = self._step(x[index], y[index])
                    check_finite(metrics, self.step + 1, cfg.on_nan)
                    self.train_seconds += time.perf_counter() - started
                    for sums in (self.metric_sums, self.epoch_sums):
                        for key, value in metrics.items():
                            sums[key] = sums.get(key, 0.0) + float(value)
                    self.metric_count += 1
                    self.epoch_count += 1
                    self.step += 1
                    if self.step % cfg.log_interval == 0 and self._log(progress):
                        self.request_stop()
                    progress.update_to(self.step)
                    if cfg.checkpoint_interval and self.step % cfg.checkpoint_interval == 0 \
                            and b + 1 < self.batches_per_epoch:  # the epoch's end checkpoints after its evaluation
                        self.save_checkpoint()
                self._end_epoch(epoch, progress)
        finally:
            progress.close()
            self._close_logs()
        return self.wall_seconds()

    def _end_epoch(self, epoch, progress):
        test = self.model.evaluate(self.data.x_test, self.data.y_test)
        self.model.on_epoch_end(epoch)
        row = {"epoch": epoch + 1, "step": self.step, "wall_seconds": round(self.wall_seconds(), 3),
               "images_per_second": round(self.images_per_second(), 1),
               **{k: v / max(self.epoch_count, 1) for k, v in self.epoch_sums.items()}, **test}
        self.epoch_sums, self.epoch_count = {}, 0
        self.history.append(row)
        self.epoch_log.write(row)
        self.tensorboard.scalars({f"epoch/{k}": v for k, v in row.items() if k not in ("epoch", "step")}, self.step)
        progress.write(f"epoch {epoch + 1}: " + ", ".join(f"{k} {v:.4g}" for k, v in test.items()))
        self.save_checkpoint()
        if self._call("on_epoch_end", row):
            self.request_stop()

    def _call(self, method, row):
        return any([bool(getattr(c, method)(self, row)) for c in self.callbacks if hasattr(c, method)])

    def _log(self, progress):
        row = {"step": self.step, "epoch": round(self.step / self.batches_per_epoch, 3),
               "wall_seconds": round(self.wall_seconds(), 3),
               **{k: v / max(self.metric_count, 1) for k, v in self.metric_sums.items()}}
        self.metric_sums, self.metric_count = {}, 0
        self.metrics_log.write(row)
        self.metrics_log.flush()
        self.tensorboard.scalars({f"train/{k}": v for k, v in row.items() if k not in ("step", "wall_seconds")},
                                 self.step)
        progress.update_to(self.step, **{k: f"{v:.4g}" for k, v in row.items() if k in self.model.metric_names})
        return self._call("on_log", row)

    def images_per_second(self):
        return self.step * self.model.batch_size / max(self.train_seconds, 1e-9)

    def wall_seconds(self):
        return self.wall_before + time.perf_counter() - self._segment_start

    # -- files ---------------------------------------------------------------------------------
    def _open_logs(self):
        d = self.run_dir
        rows = recover_logs(d, LOGS, self.step, self.log_rows, f"batch {self.step}")  # later rows come again
        self.metrics_log = CsvLog(d / "metrics.csv", ("step", "epoch", "wall_seconds", *self.model.metric_names),
                                  rows["metrics.csv"])
        self.epoch_log = CsvLog(d / "epochs.csv", ("epoch", "step", "wall_seconds", "images_per_second",
                                                   *self.model.metric_names, *self.model.test_metric_names),
                                rows["epochs.csv"])
        self.tensorboard = TensorBoardWriter(d / "tensorboard")
        self._logs_open = True

    def _row_counts(self):
        """The rows of each CSV log (what a checkpoint records, to tell a log cut short later)."""
        if not self._logs_open:
            return self.log_rows
        return {"metrics.csv": self.metrics_log.rows, "epochs.csv": self.epoch_log.rows}

    def _close_logs(self):
        self.log_rows = self._row_counts()
        self._logs_open = False
        for log in (self.metrics_log, self.epoch_log, self.tensorboard):
            log.close()

    def save_checkpoint(self):
        if self._logs_open:
            for log in (self.metrics_log, self.epoch_log, self.tensorboard):
                log.sync()  # the rows up to the checkpoint are on disk before it is
        state = {"step": self.step, "wall_seconds": self.wall_seconds(), "train_seconds": self.train_seconds,
                 "model": self.model.get_state(), "metric_sums": dict(self.metric_sums),
                 "metric_count": self.metric_count, "epoch_sums": dict(self.epoch_sums),
                 "epoch_count": self.epoch_count, "history": list(self.history),
                 "log_rows": self._row_counts()}
        return checkpoint.save(self.run_dir / "checkpoints", self.step, state)

    def load_checkpoint(self, state):
        if len(state["history"]) != min(state["step"], self.total_steps) // self.batches_per_epoch:
            raise ValueError(f"its {len(state['history'])} epoch rows do not fit step {state['step']} "
                             f"({self.batches_per_epoch} batches an epoch)")
        self.step, self.wall_before = state["step"], state["wall_seconds"]
        self.train_seconds = state["train_seconds"]
        self.model.set_state(state["model"])
        self.metric_sums, self.metric_count = state["metric_sums"], state["metric_count"]
        self.epoch_sums, self.epoch_count = state["epoch_sums"], state["epoch_count"]
        self.history = state["history"]
        self.log_rows = counted_rows(state)
