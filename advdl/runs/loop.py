"""What both training loops share: the stop flag, the clock, metric sums with the NaN/inf check,
the CSV/TensorBoard logs, checkpoints and callbacks.

A loop subclasses ``Loop`` and adds its own body (``train``) and state: ``checkpoint_state`` /
``load_state`` for the checkpoint, ``log_columns`` for its CSV logs, a ``step`` counter (what logs
and checkpoints are keyed by) and ``learner`` (the agent or model callbacks see).
"""

import math
import time
from pathlib import Path

from advdl.runs import checkpoint
from advdl.runs.logs import CsvLog, TensorBoardWriter, counted_rows, recover_logs


class Interrupted(Exception):
    """Training stopped on request (Ctrl-C, SIGTERM, ``request_stop``); a checkpoint was written."""

    def __init__(self, step, path):
        super().__init__(f"stopped at step {step}")
        self.step, self.path = step, path


class Diverged(Exception):
    """A training metric became NaN or infinite (with ``on_nan=stop``); no checkpoint was written after it."""

    def __init__(self, step, metric, value):
        super().__init__(f"{metric} became {value} at step {step}")
        self.step, self.metric, self.value = step, metric, value


def check_finite(metrics, step, on_nan):
    """Raise Diverged for the first NaN or infinite metric, unless ``on_nan`` is "continue"."""
    if on_nan == "stop":
        for name, value in metrics.items():
            if not math.isfinite(float(value)):  # math, not numpy: this runs on every train step
                raise Diverged(step, name, float(value))


def accumulate(sums, metrics):
    for key, value in metrics.items():
        sums[key] = sums.get(key, 0.0) + float(value)


class Loop:
    KEY = "step"  # the column of every CSV log that a resume cuts the logs back at
    UNIT = "step"  # what ``step`` counts, in messages

    def __init__(self, learner, run_config, run_dir, callbacks):
        self.learner = learner
        self.config = run_config
        self.run_dir = Path(run_dir)
        self.callbacks = list(callbacks)
        self.wall_before = 0.0  # seconds trained before this process resumed the run
        self.metric_sums, self.metric_count = {}, 0  # since the last metrics.csv row
        self.log_rows = {}  # CSV log -> data rows it held at the checkpoint this run resumed from
        self.logs = None  # {file name: CsvLog} while the loop runs
        self.tensorboard = None
        self._stop = False

    # -- control -------------------------------------------------------------------------------
    def request_stop(self):
        """Stop before the next step and write a checkpoint (what Ctrl-C and SIGTERM do): ``Interrupted``."""
        self._stop = True

    def _stop_if_requested(self):
        if self._stop:
            raise Interrupted(self.step, self.save_checkpoint())

    def _start_clock(self):
        self._segment_start = time.perf_counter()
        return self._segment_start

    def wall_seconds(self):
        return self.wall_before + time.perf_counter() - self._segment_start

    def add_metrics(self, metrics, step):
        """Add one train step's metrics to the sums (``step``: where a NaN is reported)."""
        check_finite(metrics, step, self.config.on_nan)
        accumulate(self.metric_sums, metrics)
        self.metric_count += 1

    def _take_means(self):
        """The metrics' means since the last call, and empty sums."""
        means = {k: v / max(self.metric_count, 1) for k, v in self.metric_sums.items()}
        self.metric_sums, self.metric_count = {}, 0
        return means

    def _call(self, method, *args):
        """Call ``method(self, *args)`` on every callback that has it; True when any returned True."""
        stop = False
        for callback in self.callbacks:
            fn = getattr(callback, method, None)
            if fn is not None:
                stop = bool(fn(self, *args)) or stop
        return stop

    # -- logs ----------------------------------------------------------------------------------
    def log_columns(self):
        """{CSV file name: its columns}."""
        raise NotImplementedError

    def _open_logs(self):
        columns = self.log_columns()
        # rows written after the last checkpoint (a hard kill) would be repeated on resume
        rows = recover_logs(self.run_dir, [(name, self.KEY) for name in columns], self.step, self.log_rows,
                            f"{self.UNIT} {self.step}")
        self.logs = {name: CsvLog(self.run_dir / name, cols, rows[name]) for name, cols in columns.items()}
        self.tensorboard = TensorBoardWriter(self.run_dir / "tensorboard")

    def _row_counts(self):
        """The rows of each CSV log (what a checkpoint records, to tell a log cut short later)."""
        if self.logs is None:
            return self.log_rows
        return {name: log.rows for name, log in self.logs.items()}

    def _close_logs(self):
        self.log_rows = self._row_counts()
        for log in (*self.logs.values(), self.tensorboard):
            log.close()
        self.logs = None

    # -- checkpoints ---------------------------------------------------------------------------
    def checkpoint_state(self):
        """The loop's own part of a checkpoint (a dict; ``log_rows`` is added to it)."""
        raise NotImplementedError

    def load_state(self, state):
        raise NotImplementedError

    def save_checkpoint(self):
        state = self.checkpoint_state() | {"log_rows": self._row_counts()}
        if self.logs is not None:
            for log in (*self.logs.values(), self.tensorboard):
                log.sync()  # the rows up to the checkpoint are on disk before it is
        return checkpoint.save(self.run_dir / "checkpoints", self.step, state)

    def load_checkpoint(self, state):
        self.load_state(state)
        self.log_rows = counted_rows(state)
