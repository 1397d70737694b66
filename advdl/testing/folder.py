"""``RunFolder``: what a finished run wrote, read back as Python values."""

import csv
import json
from pathlib import Path


def read_summary(run_dir):
    return json.loads((Path(run_dir) / "summary.json").read_text())


def _number(text):
    """A CSV field as the int or float it holds; text that is neither stays text, an empty field is None."""
    if text == "" or text is None:
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


class RunFolder:
    """A run folder: ``path``, ``summary`` (summary.json), ``config`` (config.yaml), ``metrics``
    (metrics.csv rows as dicts), ``rows(name)`` (any CSV log), ``checkpoints`` and ``model`` (paths).

    Each file is read when asked for (and again each time: a resumed run changes them).
    """

    def __init__(self, path, summary=None):
        self.path = Path(path)
        self._summary = summary

    def __repr__(self):
        return f"RunFolder({str(self.path)!r})"

    def __truediv__(self, name):
        return self.path / name

    @property
    def summary(self):
        """summary.json (the dict the run returned, when this folder came from ``advdl_run``)."""
        return self._summary if self._summary is not None else read_summary(self.path)

    @property
    def config(self):
        """config.yaml: the resolved settings, with ``hyperparameters`` and ``env_kwargs`` as dicts."""
        import yaml

        return yaml.safe_load((self.path / "config.yaml").read_text())

    @property
    def metrics(self):
        """metrics.csv's rows (one per log_interval), each a dict of column -> number."""
        return self.rows("metrics.csv")

    def rows(self, name):
        """The rows of one CSV log (``metrics.csv``, ``episodes.csv``, ``evaluations.csv``, ``epochs.csv``)."""
        with open(self.path / name, newline="") as fh:
            return [{key: _number(value) for key, value in row.items()} for row in csv.DictReader(fh)]

    @property
    def checkpoints(self):
        """The checkpoint files kept in checkpoints/, oldest first."""
        from advdl.runs.checkpoint import list_checkpoints

        return list_checkpoints(self.path / "checkpoints")

    @property
    def model(self):
        """The final model file (its name is the agent's or model's ``model_file``, as summary.json says)."""
        return self.path / self.summary["model"]

    @property
    def files(self):
        """The names of the files and folders at the top of the run folder."""
        return sorted(p.name for p in self.path.iterdir())
