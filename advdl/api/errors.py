"""Errors a user can cause. The CLI prints them as one line (``Error: ...``) and exits non-zero."""

import difflib


class AdvdlError(Exception):
    """Base of every error advdl reports to a user without a traceback."""

    exit_code = 2


class ConfigError(AdvdlError):
    """An invalid hyperparameter, --set key, config file or preset."""


class UnknownNameError(AdvdlError):
    """An unknown algorithm, environment or preset."""


class EnvSpaceError(AdvdlError):
    """An algorithm was given an environment whose spaces it cannot handle."""


class PluginError(AdvdlError):
    """A plugin failed to load or to register, or two plugins claim one name."""


class DataError(AdvdlError):
    """A dataset that is missing, truncated or corrupt."""


class CheckpointError(AdvdlError):
    """A run folder or checkpoint that is missing, incomplete or corrupt."""


class RunFolderError(CheckpointError):
    """A run folder that cannot be written: not a folder, read-only, or its disk full."""


def did_you_mean(name, choices):
    """' Did you mean 'x'?' for the closest choice, or ''."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    if not close:
        lowered = {c.lower(): c for c in choices}
        close = [lowered[name.lower()]] if name.lower() in lowered else []
    return f" Did you mean '{close[0]}'?" if close else ""


def unknown_name(kind, name, choices, hint=""):
    return UnknownNameError(f"unknown {kind} '{name}'.{did_you_mean(name, choices)}{hint}")


class TrainingDiverged(AdvdlError):
    """A training metric became NaN or infinite; the run stopped, its last good checkpoint kept."""

    exit_code = 3


class RunInterrupted(AdvdlError):
    """Ctrl-C or SIGTERM stopped a run after writing a checkpoint (not a failure of advdl)."""

    exit_code = 130
