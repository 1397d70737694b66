"""Type checks of a loaded checkpoint's state, before a trainer uses any of it.

A checkpoint's checksum finds damage, not intent (anyone can recompute it), so an edited entry
(``metric_sums: null``, ``evaluations: [[1, 2]]``, ``env_steps: -5``) must be refused here, as one
line, rather than crash the run later or be written on into the next checkpoint. A schema maps
each entry to a check: a function of the value returning True when it fits.
"""

import math
import numbers

import numpy as np

from advdl.api.errors import CheckpointError


def count(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)) and value >= 0


def number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def seconds(value):
    return number(value) and math.isfinite(value) and value >= 0


def optional(check):
    return lambda value: value is None or check(value)


def list_of(check):
    return lambda value: isinstance(value, list) and all(check(v) for v in value)


def dict_of(check):
    return lambda value: isinstance(value, dict) and all(isinstance(k, str) and check(v) for k, v in value.items())


def array(ndim=None):
    return lambda value: isinstance(value, np.ndarray) and not value.dtype.hasobject and (
        ndim is None or value.ndim == ndim)


def record(schema):
    """A dict holding (at least) the schema's entries, each fitting its check."""
    return lambda value: isinstance(value, dict) and all(k in value and check(value[k]) for k, check in schema.items())


def anything(value):
    return True


def mapping(value):
    return isinstance(value, dict)


def check(state, schema, path):
    """Raise a CheckpointError naming the first entry of ``state`` that is missing or does not fit."""
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} does not fit this run: its state is a {type(state).__name__}")
    for key, fits in schema.items():
        if key not in state:
            raise CheckpointError(f"checkpoint {path} does not fit this run: no '{key}' entry "
                                  f"(another run's, or another advdl version's)")
        if not fits(state[key]):
            shown = repr(state[key])
            raise CheckpointError(f"checkpoint {path} does not fit this run: '{key}' is "
                                  f"{shown[:60] + '...' if len(shown) > 60 else shown}")
