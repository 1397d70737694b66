"""Setting values: a config dataclass's fields, their types and bounds; a value from YAML or a command
line converted to its field's type, or one clear ConfigError."""

import dataclasses
import math
import types
import typing

from advdl.api.errors import ConfigError, unknown_name
from advdl.api.options import MAX_DEPTH, MAX_WIDTH, bounds_of, check_between, option  # noqa: F401 - re-exported

INT_MIN, INT_MAX = -2**63, 2**63 - 1  # every integer setting: numpy's and TensorFlow's int64
FLOAT32_MAX = 3.4028234663852886e38  # every float setting: beyond it, float32 arithmetic has inf
MAX_SEED = 2**31 - 1  # keras.utils.set_random_seed takes < 2**32; seeds get offsets (evaluation: + 200,000 + i)


class OutOfRange(ConfigError):
    """A number of the right type that no setting takes (beyond 64 bits, NaN, beyond float32)."""


def fields_of(cls):
    """(field, resolved type) for each field of a config dataclass."""
    hints = typing.get_type_hints(cls)
    return [(f, hints[f.name]) for f in dataclasses.fields(cls)]


def describe_type(tp):
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return "|".join(str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe_type(a) for a in args if a is not type(None)) + " or none"
    if origin is tuple:
        return f"list of {describe_type(args[0])}" if args else "list"
    return getattr(tp, "__name__", str(tp))


def coerce(name, value, tp):
    """Convert ``value`` (from YAML or a command-line string) to ``tp`` or raise ConfigError."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    bad = ConfigError(f"{name}: expected {describe_type(tp)}, got {_brief(value)}")
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "")):
            if type(None) in args:
                return None
        real = [arg for arg in args if arg is not type(None)]
        for arg in real:
            try:
                return coerce(name, value, arg)
            except ConfigError as exc:
                if len(real) == 1 and isinstance(exc, OutOfRange):  # a number, but not one the setting takes
                    raise ConfigError(f"{exc}; none is also allowed") from None
        raise bad
    if origin is typing.Literal:
        for choice in args:
            if value == choice or str(value) == str(choice):
                return choice
        raise ConfigError(f"{name}: expected one of {', '.join(map(str, args))}, got {value!r}")
    if origin is tuple:
        if isinstance(value, str):
            value = [v for v in value.replace("[", "").replace("]", "").split(",") if v.strip()]
        if isinstance(value, dict):
            value = [f"{k}={v}" for k, v in value.items()]
        if not isinstance(value, (list, tuple)):
            raise bad
        item_type = args[0] if args else str
        return tuple(coerce(name, v.strip() if isinstance(v, str) else v, item_type) for v in value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on", "false", "no", "0", "off"):
            return value.lower() in ("true", "yes", "1", "on")
        raise bad
    if tp is int:
        if isinstance(value, bool):
            raise bad
        number = value
        if isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str):
            try:
                number = int(value.replace("_", ""))  # digits exactly: a float would round 2**63-1 up to 2**63
            except ValueError:
                if not _is_integral(value):  # else a float's spelling of an integer: 1e3, 2.0
                    raise bad from None
                number = int(float(value.replace("_", "")))
        if not isinstance(number, int):
            raise bad
        if not INT_MIN <= number <= INT_MAX:
            raise OutOfRange(f"{name}: {_brief(value)} does not fit a 64-bit integer (from -2**63 to 2**63-1)")
        return number
    if tp is float:
        if isinstance(value, bool):
            raise bad
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise bad from None
        if math.isnan(number):
            raise OutOfRange(f"{name}: expected a number, got {_brief(value)}")
        if not abs(number) <= FLOAT32_MAX:
            raise OutOfRange(f"{name}: expected a finite number of at most {FLOAT32_MAX:.2g} in magnitude (float32's "
                             f"range, in which the networks compute), got {_brief(value)}")
        return number
    if tp is str:
        return str(value)
    if tp is tuple or tp is dict:
        return coerce(name, value, tuple[str, ...])
    raise bad


def _brief(value):
    """``value`` for an error message: a huge integer as its magnitude (its digits could be thousands),
    other values' repr shortened."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return f"about {'-' if value < 0 else ''}10**{int(math.log10(abs(value)))}"
    text = repr(value)
    return text if len(text) <= 80 else text[:70] + "...(" + str(len(text)) + " characters)"


def _is_integral(text):
    try:
        return float(text.replace("_", "")).is_integer()
    except ValueError:
        return False


def parse_assignments(items, what="--set"):
    """["a=1", "b=x"] -> {"a": "1", "b": "x"}."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{what} expects KEY=VALUE, got {item!r}")
        out[key.strip().replace("-", "_")] = value.strip()
    return out


def build(cls, values, where, also=()):
    """Instantiate config dataclass ``cls`` from ``values``; unknown keys and bad types are errors.

    ``also`` names settings valid elsewhere (run settings), offered as did-you-mean candidates.
    """
    known = {f.name: tp for f, tp in fields_of(cls)}
    kwargs = {}
    for key, value in values.items():
        if key in also:
            raise ConfigError(f"'{key}' is a run setting, not one of the {where}: give it at the top level "
                              f"of a config file or as --set {key}=...")
        if key not in known:
            valid = [*known, *also]
            raise unknown_name("setting", key, valid, f" Valid: {', '.join(valid)}.")
        kwargs[key] = coerce(key, value, known[key])
    try:
        check_bounds(cls, kwargs)
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def check_bounds(cls, values):
    """A ConfigError for the first field of ``cls`` whose value (in ``values``, else its default) is outside
    the bounds its ``option`` declares (of a list, any item; none passes)."""
    for f, tp in fields_of(cls):
        bounds = bounds_of(cls, f.name)
        value = values.get(f.name, f.default)
        if bounds is None or value is dataclasses.MISSING:
            continue
        items = value if isinstance(value, tuple) else (value,)
        if not all(item is None or bounds.admits(item) for item in items):
            shown = f"[{', '.join(map(str, items))}]" if isinstance(value, tuple) else _shown(value)
            raise ConfigError(f"{f.name} must be {describe_bounds(cls, f.name, tp)}, got {shown}")


def describe_bounds(cls, name, tp):
    """The bounds of field ``name`` (type ``tp``) of ``cls`` in words (``in 1..1,024``, ``made of integers
    of at least 1``, ``> 0 or none``), or "" when it has none: for error messages and ``advdl info``."""
    bounds = bounds_of(cls, name)
    if bounds is None:
        return ""
    args = typing.get_args(tp)
    optional = typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in args
    if optional:
        tp = next(arg for arg in args if arg is not type(None))
    listed = typing.get_origin(tp) is tuple
    integer = (typing.get_args(tp)[:1] or (str,))[0] is int if listed else tp is int
    text = bounds.describe(integer)
    if listed:
        text = f"made of {'integers' if integer else 'numbers'} {'of ' if text.startswith('at ') else ''}{text}"
    return text + (" or none" if optional else "")


def _shown(value):
    return f"{value:,}" if isinstance(value, int) else str(value)


def to_dict(config):
    """A config dataclass as plain YAML-able values."""
    out = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def env_kwargs_values(items):
    """('is_slippery=false',) -> {'is_slippery': False} with YAML scalars."""
    import yaml

    out = {}
    for key, value in parse_assignments(items, "--env-kwarg").items():
        try:
            out[key] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError(f"--env-kwarg {key}: {value!r} is not a YAML value ({problem})") from None
    return out
