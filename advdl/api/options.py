"""What an algorithm's config dataclass is made of: fields with help text, and their range checks."""

import math
from dataclasses import dataclass, field

from advdl.api.errors import ConfigError

MAX_WIDTH = 2**16  # units, filters, codes of one layer: the book's widest has 1,024; two of 2**16 hold 2**32 weights
MAX_DEPTH = 2000  # layers of a network setting its depth (He et al.'s deepest ResNet: 1,202)


def option(default, help, *, low=None, high=None, above=None, below=None, **kwargs):
    """A dataclass field with help text (shown by ``advdl info`` and ``advdl run ALGO --help``) and, for a
    number or a list of numbers, its bounds::

        gamma: float = option(0.99, "Discount factor.", above=0, high=1)       # in (0, 1]
        hidden_sizes: tuple[int, ...] = option((64,), "Layers.", low=1, high=MAX_WIDTH)

    - ``low`` / ``high``: inclusive, the value is at least ``low`` / at most ``high``;
    - ``above`` / ``below``: exclusive, the value is more than ``above`` / less than ``below``, e.g.
      ``above=0`` for a learning rate (``low`` and ``above`` do not go together, nor ``high`` and ``below``).

    ``advdl.settings.values.build`` checks them after converting the values, before the dataclass is made
    (so ``__post_init__`` keeps only the rules that tie fields together): of a list, every item; none
    passes. A subclass restating a field without bounds (a new default) keeps the base class's bounds.
    """
    if isinstance(default, (list, dict)):
        raise TypeError("use a tuple for sequence defaults")
    metadata = {"help": help, **kwargs}
    if (low, high, above, below) != (None, None, None, None):
        metadata["bounds"] = Bounds.of(low=low, high=high, above=above, below=below)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Bounds:
    """The numbers a setting takes: from ``low`` to ``high`` (None: no bound), each end open or closed."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    @classmethod
    def of(cls, *, low=None, high=None, above=None, below=None):
        if low is not None and above is not None or high is not None and below is not None:
            raise TypeError("option: give low or above, and high or below, not both")
        bounds = cls(low if above is None else above, high if below is None else below, above is not None,
                     below is not None)
        for end in (bounds.low, bounds.high):
            if end is not None and (isinstance(end, bool) or not isinstance(end, (int, float)) or math.isnan(end)):
                raise TypeError(f"option: bounds are numbers, got {end!r}")
        if bounds.low is not None and bounds.high is not None and bounds.low > bounds.high:
            raise TypeError(f"option: the lower bound {bounds.low} is above the upper bound {bounds.high}")
        return bounds

    def admits(self, number):
        if self.low is not None and (number <= self.low if self.low_open else number < self.low):
            return False
        return self.high is None or (number < self.high if self.high_open else number <= self.high)

    def describe(self, integer=False):
        """``in 1..1,024``, ``at least 1``, ``at most 2,000`` for integers; ``in (0, 1]``, ``> 0``, ``<= 1``
        for the rest."""
        low, high = _number(self.low), _number(self.high)
        if integer and not (self.low_open or self.high_open):
            if self.low is not None and self.high is not None:
                return f"in {low}..{high}"
            return f"at least {low}" if self.low is not None else f"at most {high}"
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {low}"
        return f"{'<' if self.high_open else '<='} {high}"


def _number(value):
    if value is None or isinstance(value, int):
        return "" if value is None else f"{value:,}"
    return f"{value:g}"


def bounds_of(cls, name):
    """The ``Bounds`` of field ``name`` of config dataclass ``cls``, or None: declared on the field, or else
    on the nearest base class that declares the field with bounds."""
    for klass in cls.__mro__:
        declared = getattr(klass, "__dataclass_fields__", {}).get(name)
        if declared is not None and "bounds" in declared.metadata:
            return declared.metadata["bounds"]
    return None


def check_between(config, names, low, high=None):
    """A ConfigError naming the first of ``names`` (fields of ``config``; of a list field, any item) outside
    ``low..high``. (Bounds of one field are better declared on its ``option``.)"""
    for name in names:
        value = getattr(config, name)
        for item in value if isinstance(value, tuple) else (value,):
            if item < low or (high is not None and item > high):
                bounds = f"in {low}..{high:,}" if high is not None else f">= {low}"
                raise ConfigError(f"{name} must be {'made of integers ' if isinstance(value, tuple) else ''}"
                                  f"{bounds}, got {list(value) if isinstance(value, tuple) else value}")


def flat_settings(settings):
    """A run's settings as ``config.yaml`` holds them, flattened for a tracker (TensorBoard's HParams, MLflow):
    the hyperparameters beside the run settings, each a bool, int, float or str (lists and mappings joined
    with commas, None as "none")."""
    flat = {k: v for k, v in settings.items() if k != "hyperparameters"} | dict(settings.get("hyperparameters") or {})
    values = {}
    for key, value in flat.items():
        if isinstance(value, (list, tuple)):
            value = ",".join(map(str, value))
        elif isinstance(value, dict):
            value = ",".join(f"{k}={v}" for k, v in value.items())
        values[str(key)] = "none" if value is None else value if isinstance(value, (bool, int, float, str)) else str(value)
    return values
