"""Which process of a multi-worker run writes the run folder (TF_CONFIG's chief, else worker 0)."""

import json
import os

from advdl.api.errors import ConfigError


def worker_task():
    """(task type, index, whether the cluster names a chief) from TF_CONFIG, or None without it
    (with a malformed one: an error)."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        return None
    try:
        config = json.loads(text)
        task = config["task"]
        return str(task["type"]), int(task["index"]), "chief" in config["cluster"]
    except (ValueError, KeyError, TypeError):
        raise ConfigError("TF_CONFIG must be JSON with a cluster and a task {type, index}, e.g. "
                          '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", '
                          '"index": 0}}') from None


def is_chief(strategy_name):
    """Whether this process writes the run folder (always, except multiworker tasks other than 0)."""
    if strategy_name != "multiworker":
        return True
    task = worker_task()
    if task is None:
        return True
    kind, index, has_chief = task
    return kind == "chief" or (kind == "worker" and index == 0 and not has_chief)
