"""Configs: frozen dataclasses with help text, resolved as defaults < preset < file < flags.

A config file (YAML) looks like the ``config.yaml`` every run writes, so a run can be re-run
with ``--config RUN_DIR/config.yaml``::

    algorithm: dqn
    env: CartPole-v1
    steps: 50000
    seed: 0
    hyperparameters: {learning_rate: 0.001, hidden_sizes: [256, 256]}
"""

import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from pathlib import Path

from advdl.api.errors import ConfigError, RunFolderError, unknown_name
from advdl.api.options import MAX_DEPTH, MAX_WIDTH, bounds_of, check_between, option  # noqa: F401 - re-exported

INT_MIN, INT_MAX = -2**63, 2**63 - 1  # every integer setting: numpy's and TensorFlow's int64
FLOAT32_MAX = 3.4028234663852886e38  # every float setting: beyond it, float32 arithmetic has inf
MAX_SEED = 2**31 - 1  # keras.utils.set_random_seed takes < 2**32; seeds get offsets (evaluation: + 200,000 + i)
MAX_EPOCHS = 2**31 - 1  # so that epochs x batches per epoch (fewer than 2**32) fit in 64 bits
MAX_REPLICAS = 256  # GPUs of one machine (a DGX has 8 or 16); without GPUs, logical CPU devices to test with


class OutOfRange(ConfigError):
    """A number of the right type that no setting takes (beyond 64 bits, NaN, beyond float32)."""


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Settings of a run that every algorithm shares."""

    env: str = option("", "Gymnasium environment id, e.g. CartPole-v1.")
    env_kwargs: tuple[str, ...] = option((), "Keyword arguments for gymnasium.make, as KEY=VALUE pairs.")
    steps: int = option(100_000, "Environment steps to train for.", low=1)
    episodes: int = option(0, "Also stop after this many training episodes (0: no episode limit).", low=0)
    seed: int = option(0, "Seed for the network, the environment and exploration.", low=0, high=MAX_SEED)
    eval_interval: int = option(10_000, "Evaluate deterministically every N env steps (0: never).", low=0)
    eval_episodes: int = option(10, "Episodes per periodic evaluation.", low=1)
    final_eval_episodes: int = option(20, "Episodes of the final deterministic evaluation.", low=1)
    checkpoint_interval: int = option(25_000, "Write a checkpoint every N env steps (0: only at the end).", low=0)
    log_interval: int = option(1_000, "Write a metrics.csv row and TensorBoard scalars every N env steps.", low=1)
    keep_best: bool = option(False, "End with the weights of the best periodic evaluation (ties: the latest); "
                                    "the final evaluation uses other episodes.")
    stop_when_solved: bool = option(False, "Stop once the mean return of 100 training episodes reaches the env's threshold.")
    vec: typing.Literal["sync", "async"] = option(
        "sync", "How the environments step: sync (in this process, one after another) or async (each in its own "
                "subprocess, stepping at the same time; for environments slow to step).")
    on_nan: typing.Literal["stop", "continue"] = option(
        "stop", "When a training metric (a loss) becomes NaN or infinite: stop, keeping the last good checkpoint, "
                "or continue.")
    deterministic: bool = option(False, "Strict determinism: besides TensorFlow's deterministic ops (always on), "
                                        "oneDNN's custom CPU kernels off and one thread for TensorFlow's ops; slower.")

    @classmethod
    def missing_target(cls, spec):
        envs = [p.get("env") or name for name, p in spec.presets.items() if "-v" in (p.get("env") or name)]
        return f"no environment given: use --env ENV_ID (for example --env {envs[0] if envs else 'CartPole-v1'})"


@dataclass(frozen=True, kw_only=True)
class DataRunConfig:
    """Settings of a run on a dataset (supervised and generative models)."""

    data: str = option("", "Dataset name (advdl list shows them), e.g. mnist.")
    data_dir: str = option("", "Offline directory with the dataset's files, read before keras.datasets "
                               "(default: the ADVDL_DATA_DIR environment variable).")
    epochs: int = option(10, "Passes over the training images.", low=1, high=MAX_EPOCHS)
    seed: int = option(0, "Seed for the weights, the batch order, dropout and augmentation.", low=0, high=MAX_SEED)
    log_interval: int = option(50, "Write a metrics.csv row and TensorBoard scalars every N batches.", low=1)
    checkpoint_interval: int = option(0, "Also write a checkpoint every N batches inside an epoch (0: at epoch "
                                         "ends only); a killed run resumes from the last one.", low=0)
    on_nan: typing.Literal["stop", "continue"] = option(
        "stop", "When a training metric (a loss) becomes NaN or infinite: stop, keeping the last good checkpoint, "
                "or continue.")
    deterministic: bool = option(False, "Strict determinism: besides TensorFlow's deterministic ops (always on), "
                                        "oneDNN's custom CPU kernels off and one thread for TensorFlow's ops; slower.")
    strategy: typing.Literal["default", "mirrored", "multiworker"] = option(
        "default", "tf.distribute strategy: default (one device), mirrored (the GPUs of this machine, or the CPU "
                   "split into --replicas devices), multiworker (the workers TF_CONFIG names).")
    replicas: int = option(0, "mirrored: replicas (0: one per GPU, or 1 without GPUs; without GPUs the CPU is "
                              "split into this many logical devices).", low=0, high=MAX_REPLICAS)

    def __post_init__(self):
        if self.replicas and self.strategy != "mirrored":
            raise ConfigError(f"replicas applies to --strategy mirrored, not {self.strategy}")

    @classmethod
    def missing_target(cls, spec):
        return "no dataset given: use --data NAME (for example --data mnist; `advdl list` shows them)"


@dataclass(frozen=True, kw_only=True)
class GenerativeRunConfig(DataRunConfig):
    """Settings of a generative model's run: a dataset run that is scored while it trains."""

    scorer: str = option("cnn", "The classifier (a supervised algorithm) trained once per dataset whose features "
                                "and class probabilities score the generated images.")


def run_config_class(spec):
    """The run-settings class of ``spec``'s family (RL: RunConfig; datasets: DataRunConfig)."""
    return spec.family_spec.settings_class()


def run_keys(spec):
    return tuple(f.name for f in dataclasses.fields(run_config_class(spec)))


def split_settings(spec, values):
    """``values`` (setting name -> value) as ``(run_values, hyper_values)``: the run settings of ``spec``'s
    family, and the rest (its hyperparameters, or unknown names, which ``build`` reports)."""
    keys = set(run_keys(spec))
    run_values = {k: v for k, v in values.items() if k in keys}
    return run_values, {k: v for k, v in values.items() if k not in keys}


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


MAX_CONFIG_BYTES = 16 * 2**20


def load_file(path):
    import yaml

    from advdl.api.files import read_bytes

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file not found: {path}")
    try:  # bytes: YAML's own decoding (UTF-8, UTF-16 with a BOM); a regular file only (a FIFO would hang)
        data = yaml.safe_load(read_bytes(path, MAX_CONFIG_BYTES, follow_links=True))
    except RunFolderError as exc:
        raise ConfigError(f"cannot read config file: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else f" (byte {exc.position})" if hasattr(exc, "position") else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]  # a ReaderError: undecodable text
        raise ConfigError(f"malformed config file {path}{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"malformed config file {path}: expected a mapping of settings")
    _check_size(data, path)
    hyper = data.get("hyperparameters", {}) or {}
    if not isinstance(hyper, dict):
        raise ConfigError(f"malformed config file {path}: 'hyperparameters' must be a mapping")
    for where, mapping in (("", data), ("'hyperparameters': ", hyper)):
        if names := [k for k in mapping if not isinstance(k, str)]:
            raise ConfigError(f"malformed config file {path}: {where}setting names are text, got {names[0]!r}")
    for key in ("algorithm", "preset", "env", "data"):  # names, looked up before any setting is checked
        if data.get(key) is not None and not isinstance(data[key], str):
            raise ConfigError(f"malformed config file {path}: {key} must be a name, got {data[key]!r}")
    return data


def _check_size(data, path, limit=100_000):
    """Refuse a document of more than ``limit`` values: YAML aliases can make a few hundred bytes
    expand to billions of them (and a recursive alias, endlessly)."""
    stack, count = [data], 0
    while stack:
        item = stack.pop()
        count += 1
        if count > limit:
            raise ConfigError(f"malformed config file {path}: more than {limit:,} values (aliases that expand "
                              f"without bound?)")
        if isinstance(item, dict):
            stack += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            stack += item


def resolve(spec, *, env=None, preset=None, file_data=None, run_flags=None, hyper_flags=None, data=None, target=None):
    """Merge defaults < preset < config file < flags into (run config, algorithm config, preset).
    ``target`` (or ``env``, ``data``: its names in advdl's families) is what the run trains on."""
    file_data = dict(file_data or {})
    key = spec.family_spec.target  # the run setting naming what the run trains on: env, data
    target = target or env or data or file_data.get(key) or ""
    if preset is None:
        preset = file_data.get("preset")
    if preset is None and target in spec.presets:
        preset = target
    if preset == "none":  # opt out of the automatic per-environment (per-dataset) preset
        preset = ""
    run_values, hyper_values = {}, {}
    if preset:
        if preset not in spec.presets:
            raise unknown_name(f"preset for {spec.name}", preset, spec.presets,
                               f" Presets: {', '.join(spec.presets) or 'none'}.")
        chosen = spec.presets[preset]
        target = target or chosen.get(key, "")
        run_values.update(chosen.get("run", {}))
        hyper_values.update(chosen.get("hyperparameters", {}))
    file_algo = file_data.pop("algorithm", None)
    if file_algo not in (None, spec.name):
        raise ConfigError(f"config file is for algorithm '{file_algo}', not '{spec.name}'")
    hyper_values.update(file_data.pop("hyperparameters", None) or {})
    file_data.pop("preset", None)
    run_values.update(file_data)
    run_values.update({k: v for k, v in (run_flags or {}).items() if v is not None})
    hyper_values.update(hyper_flags or {})
    if isinstance(run_values.get("env_kwargs"), dict):
        run_values["env_kwargs"] = [f"{k}={v}" for k, v in run_values["env_kwargs"].items()]
    run_values[key] = target or run_values.get(key, "")
    settings = run_config_class(spec)
    run_config = build(settings, run_values, "run settings")
    if not getattr(run_config, key):
        raise ConfigError(settings.missing_target(spec))
    algo_config = build(spec.config, hyper_values, f"{spec.name} hyperparameters", also=run_keys(spec))
    return run_config, algo_config, preset


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
