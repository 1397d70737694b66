"""Helpers for tests, advdl's own and plugin authors': train a run in-process, read its folder.

Cheap to import (no TensorFlow, no numpy): what a run needs is imported when it starts. The pytest
fixtures (``advdl_registry``, ``advdl_run`` ...) live in ``advdl.testing.plugin``, which pytest
loads by itself wherever advdl is installed (the ``pytest11`` entry point).
"""

from advdl.testing.folder import RunFolder, read_summary
from advdl.testing.runs import env_kwargs_items, run_algorithm

__all__ = ["RunFolder", "env_kwargs_items", "read_summary", "run_algorithm"]
