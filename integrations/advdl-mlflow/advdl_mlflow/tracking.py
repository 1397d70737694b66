"""The callback that logs one advdl run to MLflow (``MlflowClient``, no global active run).

Where it logs: ``MLFLOW_TRACKING_URI`` (MLflow's own default when unset), experiment
``MLFLOW_EXPERIMENT_NAME`` (default ``advdl``). A run inside a multi-seed folder (its parent holds
``seeds.yaml``) is the child of that folder's MLflow run; a sweep's combination folder (inside
``OUT/trials/`` of a folder holding ``sweep.yaml``) is in turn the child of the sweep's. Group runs are
found by their folder (tag ``advdl.group_dir``), so the seeds' processes, run one after another or side
by side, share one parent.

Nothing here may stop a run: the first failure to reach MLflow prints one warning line and switches the
logging off for the rest of the run.
"""

import atexit
import fcntl
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

from advdl import __version__ as advdl_version
from advdl.api import Callback, flat_settings

DEFAULT_EXPERIMENT = "advdl"
BATCH = 500  # metrics per log_batch call (MLflow takes up to 1,000)
FLUSH_SECONDS = 10.0
MAX_PARAM = 6000  # MLflow's longest parameter value
ARTIFACT_SUFFIXES = (".png", ".keras", ".npz", ".npy", ".gif")
ARTIFACT_FILES = ("config.yaml", "summary.json", "q_table.csv")

# a tracking server that is down should cost a run seconds, not MLflow's default minutes of retries
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")


def params_of(settings):
    """config.yaml's settings as MLflow params (strings of at most MAX_PARAM characters)."""
    return {key: str(value)[:MAX_PARAM] for key, value in flat_settings(settings).items()}


def numbers(row, prefix=""):
    return {f"{prefix}{k}": float(v) for k, v in row.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v}


def final_metrics(summary):
    """The finished run's numbers (summary.json): RL the final evaluation and its cost, datasets every final
    test metric."""
    if "eval" in summary:
        out = {"final/eval_mean": summary["eval"]["mean"], "final/eval_std": summary["eval"]["std"]}
        out |= numbers({k: summary.get(k) for k in ("env_steps", "episodes", "wall_seconds", "steps_per_second")},
                       "final/")
        if summary.get("reward_threshold") is not None:
            out["final/solved"] = float(summary["eval"]["mean"] >= summary["reward_threshold"])
        return out
    return numbers(summary.get("final") or {}, "final/") | numbers(
        {k: summary.get(k) for k in ("wall_seconds", "images_per_second")}, "final/")


class MlflowCallback(Callback):
    def __init__(self, algorithm, run_dir):
        self.algorithm, self.run_dir = algorithm, Path(run_dir).resolve()
        self.client = self.run_id = None
        self.groups = []  # the run ids of the group runs above this one, innermost last
        self.pending, self.last_flush, self.ended, self.off = [], 0.0, False, False

    # -- the callback methods: each guarded, none may stop the run ----------------------------------
    def on_start(self, run):
        self._guarded(self._start, run)

    def on_log(self, run, row):
        self._guarded(self._queue, numbers(row), run.step)

    def on_evaluation(self, run, record):
        if "mean" in record and "env_steps" in record:  # RL: a periodic evaluation
            metrics = {"eval/mean": record["mean"], "eval/std": record["std"]}
        else:  # a dataset run: the epoch's row
            metrics = numbers({k: v for k, v in record.items() if k != "step"}, "epoch/")
        self._guarded(self._queue, numbers(metrics), run.step)

    def on_end(self, run, summary):
        self._guarded(self._end, run, summary)

    # -- MLflow ------------------------------------------------------------------------------------
    def _guarded(self, fn, *args):
        if self.off:
            return
        try:
            fn(*args)
        except Exception as exc:  # a server down, a refused request: the run goes on, unlogged
            self.off = True
            uri = os.environ.get("MLFLOW_TRACKING_URI", "MLflow's default store")
            text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            print(f"advdl-mlflow: cannot log to {uri} ({type(exc).__name__}: {text}); the run goes on without "
                  f"MLflow", file=sys.stderr)

    def _start(self, run):
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient()
        settings = yaml.safe_load((self.run_dir / "config.yaml").read_text()) or {}
        experiment = self._experiment()
        self.groups = self._group_runs(experiment, settings)
        previous = self._find(experiment, "advdl.run_dir", self.run_dir) if run.step > 0 else None
        if previous is not None:  # a resumed run continues its own MLflow run
            self.run_id = previous.info.run_id
            self.client.update_run(self.run_id, status="RUNNING")
            self.client.set_tag(self.run_id, "advdl.resumed_at_step", str(run.step))
        else:
            tags = self._tags(settings) | {"mlflow.runName": self.run_dir.name, "advdl.run_dir": str(self.run_dir)}
            if self.groups:
                tags["mlflow.parentRunId"] = self.groups[-1]
            self.run_id = self.client.create_run(experiment, tags=tags).info.run_id
            from mlflow.entities import Param

            params = [Param(k, v) for k, v in params_of(settings).items()]
            for i in range(0, len(params), 100):
                self.client.log_batch(self.run_id, params=params[i:i + 100])
        for group in self.groups:
            self.client.update_run(group, status="RUNNING")
        atexit.register(self._at_exit)

    def _tags(self, settings):
        tags = {"advdl.algorithm": self.algorithm, "advdl.version": advdl_version}
        for key in ("env", "data", "seed", "preset"):
            if settings.get(key) is not None:
                tags[f"advdl.{key}"] = str(settings[key])
        return tags

    def _experiment(self):
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        try:
            return self.client.create_experiment(name)
        except Exception:  # another seed's process created it first
            return self.client.get_experiment_by_name(name).experiment_id

    def _group_runs(self, experiment, settings):
        """The run ids of the groups this run belongs to, outermost first, each found or created."""
        folders = []
        seeds = self.run_dir.parent
        if (seeds / "seeds.yaml").is_file():
            sweep = seeds.parent.parent
            if seeds.parent.name == "trials" and (sweep / "sweep.yaml").is_file():
                folders.append((sweep, "sweep"))
            folders.append((seeds, "seeds"))
        ids = []
        for folder, kind in folders:
            ids.append(self._group(experiment, folder, kind, ids[-1] if ids else None, settings))
        return ids

    def _group(self, experiment, folder, kind, parent, settings):
        digest = hashlib.sha1(str(folder).encode()).hexdigest()[:16]
        with open(Path(tempfile.gettempdir()) / f"advdl-mlflow-{digest}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # the seeds' processes: one creates the group, the others find it
            found = self._find(experiment, "advdl.group_dir", folder)
            if found is not None:
                return found.info.run_id
            tags = {"advdl.algorithm": self.algorithm, "advdl.version": advdl_version, "advdl.group": kind,
                    "advdl.group_dir": str(folder), "mlflow.runName": f"{folder.name} ({kind})"}
            tags |= {k: v for k, v in self._tags(settings).items() if k in ("advdl.env", "advdl.data", "advdl.preset")}
            if parent is not None:
                tags["mlflow.parentRunId"] = parent
            return self.client.create_run(experiment, tags=tags).info.run_id

    def _find(self, experiment, tag, value):
        quoted = str(value).replace("\\", "\\\\").replace("'", "\\'")
        runs = self.client.search_runs([experiment], filter_string=f"tags.`{tag}` = '{quoted}'",
                                       order_by=["attributes.start_time DESC"], max_results=1)
        return runs[0] if runs else None

    def _queue(self, metrics, step):
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.pending += [Metric(k, v, now, int(step)) for k, v in metrics.items()]
        if len(self.pending) >= BATCH or time.monotonic() - self.last_flush > FLUSH_SECONDS:
            self._flush()

    def _flush(self):
        while self.pending:
            batch, self.pending = self.pending[:BATCH], self.pending[BATCH:]
            self.client.log_batch(self.run_id, metrics=batch)
        self.last_flush = time.monotonic()

    def _end(self, run, summary):
        self._queue(final_metrics(summary), run.step)
        self._flush()
        for path in sorted(self.run_dir.iterdir()):
            if path.is_file() and (path.suffix in ARTIFACT_SUFFIXES or path.name in ARTIFACT_FILES):
                self.client.log_artifact(self.run_id, str(path))
        if (self.run_dir / "samples").is_dir():
            self.client.log_artifacts(self.run_id, str(self.run_dir / "samples"), "samples")
        self.client.set_terminated(self.run_id, "FINISHED")
        for group in self.groups:
            self.client.set_terminated(group, "FINISHED")  # RUNNING again when another of its runs starts
        self.ended = True

    def _at_exit(self):
        """A run that ended without its summary (interrupted, failed): what was queued, then KILLED."""
        if self.ended or self.off or self.run_id is None:
            return
        try:
            self._flush()
            self.client.set_tag(self.run_id, "advdl.ended", "without a summary: interrupted or failed "
                                                             "(advdl run --resume continues this MLflow run)")
            self.client.set_terminated(self.run_id, "KILLED")
        except Exception:
            pass



