"""The training loop for models on datasets (supervised and generative): one loop, owned by the core.

Every epoch visits the training images in an order drawn from (seed, epoch), so a resumed run
knows the order without storing it; the checkpoint holds the model's state (weights, optimizer,
RNG variables), the position inside the epoch and the metric accumulators, so a resumed run
continues exactly where the interrupted one stopped.
"""

import math
import time

import numpy as np

from advdl.api.errors import ConfigError
from advdl.runs import statecheck as sc
from advdl.runs.logs import Progress
from advdl.runs.loop import Loop, accumulate

STATE_SCHEMA = {  # what load_checkpoint reads (the model's own part checks itself)
    "step": sc.count, "wall_seconds": sc.seconds, "train_seconds": sc.seconds, "model": sc.anything,
    "metric_sums": sc.dict_of(sc.number), "metric_count": sc.count, "epoch_sums": sc.dict_of(sc.number),
    "epoch_count": sc.count, "history": sc.list_of(sc.dict_of(sc.anything)),
}


def check_state(state, path):
    """The checks of a loaded dataset-run checkpoint (``checkpoint.load_latest``'s ``check``)."""
    sc.check(state, STATE_SCHEMA, path)


DEVICE_SHARE = 0.25  # device_data=auto: the training set may take this share of the GPU's memory
DEVICE_BYTES_UNKNOWN = 2**30  # ... or this much when the GPU's memory is unknown


def device_resident(run_config, model, dataset, strategy):
    """The training images and labels as tensors on the device (GPU if any) when ``device_data`` asks for it
    (auto: a GPU, no strategy, a model that takes tensor batches, a training set that fits); else None."""
    setting = getattr(run_config, "device_data", "off")
    if setting == "off" or strategy is not None or not getattr(model, "device_batches", False):
        return None
    from advdl.api.devices import gpus

    found = gpus()
    if setting == "auto":
        room = found and (found[0].memory_bytes * DEVICE_SHARE if found[0].memory_bytes else DEVICE_BYTES_UNKNOWN)
        if not found or dataset.x_train.nbytes > room:
            return None
    import tensorflow as tf

    with tf.device("/GPU:0" if found else "/CPU:0"):
        return tf.constant(dataset.x_train), tf.constant(dataset.y_train)


LOWER_IS_BETTER = ("distance", "error", "loss", "mse", "kid")


def improves(metric, value, best):
    """Whether ``value`` of ``metric`` is at least as good as ``best`` (None: nothing kept yet); distances,
    errors and losses are better lower, the rest higher; a tie goes to the later epoch."""
    if value is None or value != value:
        return False
    if best is None:
        return True
    return value <= best if any(word in metric for word in LOWER_IS_BETTER) else value >= best


class DataTrainer(Loop):
    UNIT = "batch"

    def __init__(self, model, dataset, run_config, run_dir, progress=True, callbacks=(), strategy=None):
        super().__init__(model, run_config, run_dir, callbacks)
        self.model, self.data = model, dataset
        if strategy is None:
            self.train_step, self.replicas = model.train_step, 1
        else:  # a tf.distribute strategy (the model was built in its scope)
            from advdl.datasets.distribute import DistributedStep

            self.train_step = DistributedStep(strategy, model)
            self.replicas = self.train_step.replicas
        self.show_progress = progress
        self.batches_per_epoch = math.ceil(len(dataset.x_train) / model.batch_size)
        self.total_steps = self.batches_per_epoch * run_config.epochs
        self.step = 0  # batches trained so far
        self.train_seconds = 0.0  # inside train_step calls only (the images/s figure)
        self.epoch_sums, self.epoch_count = {}, 0  # since the epoch began
        self.history = []  # one row per epoch (and one for an epoch a callback ended part way)
        self.on_device = device_resident(run_config, model, dataset, strategy)  # (images, labels) tensors or None
        self.keep_best = getattr(run_config, "keep_best", "none")
        self.best = None  # with keep_best: {"epoch", "value", "model": the model's state} of the best epoch

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
        cfg, bs, per_epoch = self.config, self.model.batch_size, self.batches_per_epoch
        x, y = self.data.x_train, self.data.y_train
        self._open_logs()
        self._start_clock()
        self._call("on_start")
        progress = Progress(self.total_steps, self.step, self.show_progress, unit="batch")
        stop = self._ended_part_way()
        try:
            while self.step < self.total_steps and not stop:
                epoch, batch = divmod(self.step, per_epoch)
                order = self.order(epoch)
                for b in range(batch, per_epoch):
                    self._stop_if_requested()
                    index = order[b * bs:(b + 1) * bs]
                    started = time.perf_counter()
                    if self.on_device is not None:  # gathered on the device: only the indices cross
                        metrics = self._step(*self._gather(*self.on_device, index))
                    else:
                        metrics = self._step(x[index], y[index])
                    self.train_seconds += time.perf_counter() - started
                    self.add_metrics(metrics, self.step + 1)
                    accumulate(self.epoch_sums, metrics)
                    self.epoch_count += 1
                    self.step += 1
                    stop = self.step % cfg.log_interval == 0 and self._log(progress)
                    progress.update_to(self.step)
                    if stop:
                        break  # the epoch ends here: its evaluation, then the run's end
                    if cfg.checkpoint_interval and self.step % cfg.checkpoint_interval == 0 \
                            and b + 1 < per_epoch:  # the epoch's end checkpoints after its evaluation
                        self.save_checkpoint()
                stop = self._end_epoch(epoch, progress) or stop
        finally:
            progress.close()
            self._close_logs()
        return self.wall_seconds()

    def _ended_part_way(self):
        """True when the history has a row for the epoch under way: a callback ended the run there (and
        it was resumed before its summary was written)."""
        return len(self.history) > self.step // self.batches_per_epoch

    def _end_epoch(self, epoch, progress):
        """Evaluate, log and checkpoint the epoch's end; True when a callback ends the run."""
        test = self.model.evaluate(self.data.x_test, self.data.y_test)
        self.model.on_epoch_end(epoch)
        row = {"epoch": epoch + 1, "step": self.step, "wall_seconds": round(self.wall_seconds(), 3),
               "images_per_second": round(self.images_per_second(), 1),
               **{k: v / max(self.epoch_count, 1) for k, v in self.epoch_sums.items()}, **test}
        self.epoch_sums, self.epoch_count = {}, 0
        self.history.append(row)
        if self.keep_best != "none" and improves(self.keep_best, row.get(self.keep_best),
                                                 self.best and self.best["value"]):
            self.best = {"epoch": epoch + 1, "value": float(row[self.keep_best]), "model": self.model.get_state()}
        self.logs["epochs.csv"].write(row)
        self.tensorboard.scalars({f"epoch/{k}": v for k, v in row.items() if k not in ("epoch", "step")}, self.step)
        progress.write(f"epoch {epoch + 1}: " + ", ".join(f"{k} {v:.4g}" for k, v in test.items()))
        self.save_checkpoint()
        return self._call("on_evaluation", row)

    def _log(self, progress):
        row = {"step": self.step, "epoch": round(self.step / self.batches_per_epoch, 3),
               "wall_seconds": round(self.wall_seconds(), 3), **self._take_means()}
        self.logs["metrics.csv"].write(row)
        self.logs["metrics.csv"].flush()
        self.tensorboard.scalars({f"train/{k}": v for k, v in row.items() if k not in ("step", "wall_seconds")},
                                 self.step)
        progress.update_to(self.step, **{k: f"{v:.4g}" for k, v in row.items() if k in self.model.metric_names})
        return self._call("on_log", row)

    def images_per_second(self):
        return self.step * self.model.batch_size / max(self.train_seconds, 1e-9)

    def log_columns(self):
        return {"metrics.csv": ("step", "epoch", "wall_seconds", *self.model.metric_names),
                "epochs.csv": ("epoch", "step", "wall_seconds", "images_per_second",
                               *self.model.metric_names, *self.model.test_metric_names)}

    # -- checkpoints ---------------------------------------------------------------------------
    def checkpoint_state(self):
        return {"step": self.step, "wall_seconds": self.wall_seconds(), "train_seconds": self.train_seconds,
                "model": self.model.get_state(), "metric_sums": dict(self.metric_sums),
                "metric_count": self.metric_count, "epoch_sums": dict(self.epoch_sums),
                "epoch_count": self.epoch_count, "history": list(self.history), "best": self.best}

    def load_state(self, state):
        full_epochs = min(state["step"], self.total_steps) // self.batches_per_epoch
        ended_early = state["step"] % self.batches_per_epoch != 0  # a callback's end part way: one row more
        if len(state["history"]) not in (full_epochs, full_epochs + ended_early):
            raise ValueError(f"its {len(state['history'])} epoch rows do not fit step {state['step']} "
                             f"({self.batches_per_epoch} batches an epoch)")
        self.step, self.wall_before = state["step"], state["wall_seconds"]
        self.train_seconds = state["train_seconds"]
        self.model.set_state(state["model"])
        self.metric_sums, self.metric_count = state["metric_sums"], state["metric_count"]
        self.epoch_sums, self.epoch_count = state["epoch_sums"], state["epoch_count"]
        self.history = state["history"]
        best = state.get("best")  # a checkpoint of a run without keep_best (or of an earlier version): none
        if best is not None and not sc.record({"epoch": sc.count, "value": sc.number, "model": sc.anything})(best):
            raise ValueError("its kept best epoch is malformed")
        self.best = best

    @staticmethod
    def _gather(images, labels, index):
        import tensorflow as tf

        index = tf.constant(index)
        return tf.gather(images, index), tf.gather(labels, index)

    def restore_best(self):
        """With keep_best: the model set to the best epoch's state; ({"epoch", metric: value} or None)."""
        if self.best is None:
            return None
        self.model.set_state(self.best["model"])
        return {"epoch": self.best["epoch"], self.keep_best: self.best["value"]}
