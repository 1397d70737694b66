"""advdl-mlflow: every advdl run logged to MLflow, through advdl's public plugin API only.

This module is what the ``advdl`` entry point names: it stays cheap to import (``advdl list`` imports
it); MLflow itself is imported when a run starts.
"""

from advdl.api import hookimpl

__version__ = "0.1.0"


@hookimpl
def advdl_run_callbacks(algorithm, config, run_dir):
    from advdl_mlflow.tracking import MlflowCallback

    return [MlflowCallback(algorithm, run_dir)]
