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
from dataclasses import dataclass, field
from pathlib import Path

from advdl.api.errors import ConfigError, RunFolderError, unknown_name

INT_MIN, INT_MAX = -2**63, 2**63 - 1  # every integer setting: numpy's and TensorFlow's int64
FLOAT32_MAX = 3.4028234663852886e38  # every float setting: beyond it, float32 arithmetic has inf
MAX_SEED = 2**31 - 1  # keras.utils.set_random_seed takes < 2**32; seeds get offsets (evaluation: + 200,000 + i)
MAX_EPOCHS = 2**31 - 1  # so that epochs x batches per epoch (fewer than 2**32) fit in 64 bits
MAX_REPLICAS = 256  # GPUs of one machine (a DGX has 8 or 16); without GPUs, logical CPU devices to test with
MAX_WIDTH = 2**16  # units, filters, codes of one layer: the book's widest has 1,024; two of 2**16 hold 2**32 weights
MAX_DEPTH = 2000  # layers of a network setting its depth (He et al.'s deepest ResNet: 1,202)


class OutOfRange(ConfigError):
    """A number of the right type that no setting takes (beyond 64 bits, NaN, beyond float32)."""


def option(default, help, **kwargs):
    """A dataclass field with help text (shown by ``advdl info`` and ``advdl run ALGO --help``)."""
    if isinstance(default, (list, dict)):
        raise TypeError("use a tuple for sequence defaults")
    return field(default=default, metadata={"help": help, **kwargs})


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Settings of a run that every algorithm shares."""

    env: str = option("", "Gymnasium environment id, e.g. CartPole-v1.")
    env_kwargs: tuple[str, ...] = option((), "Keyword arguments for gymnasium.make, as KEY=VALUE pairs.")
    steps: int = option(100_000, "Environment steps to train for.")
    episodes: int = option(0, "Also stop after this many training episodes (0: no episode limit).")
    seed: int = option(0, "Seed for the network, the environment and exploration.")
    eval_interval: int = option(10_000, "Evaluate deterministically every N env steps (0: never).")
    eval_episodes: int = option(10, "Episodes per periodic evaluation.")
    final_eval_episodes: int = option(20, "Episodes of the final deterministic evaluation.")
    checkpoint_interval: int = option(25_000, "Write a checkpoint every N env steps (0: only at the end).")
    log_interval: int = option(1_000, "Write a metrics.csv row and TensorBoard scalars every N env steps.")
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

    def __post_init__(self):
        for name in ("steps",):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be a positive integer, got {getattr(self, name)}")
        for name in ("episodes", "eval_interval", "checkpoint_interval", "seed"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("eval_episodes", "final_eval_episodes", "log_interval"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be a positive integer, got {getattr(self, name)}")
        check_seed(self.seed)


@dataclass(frozen=True, kw_only=True)
class DataRunConfig:
    """Settings of a run on a dataset (supervised and generative models)."""

    data: str = option("", "Dataset name (advdl list shows them), e.g. mnist.")
    data_dir: str = option("", "Offline directory with the dataset's files, read before keras.datasets "
                               "(default: the ADVDL_DATA_DIR environment variable).")
    epochs: int = option(10, "Passes over the training images.")
    seed: int = option(0, "Seed for the weights, the batch order, dropout and augmentation.")
    log_interval: int = option(50, "Write a metrics.csv row and TensorBoard scalars every N batches.")
    checkpoint_interval: int = option(0, "Also write a checkpoint every N batches inside an epoch (0: at epoch "
                                         "ends only); a killed run resumes from the last one.")
    on_nan: typing.Literal["stop", "continue"] = option(
        "stop", "When a training metric (a loss) becomes NaN or infinite: stop, keeping the last good checkpoint, "
                "or continue.")
    deterministic: bool = option(False, "Strict determinism: besides TensorFlow's deterministic ops (always on), "
                                        "oneDNN's custom CPU kernels off and one thread for TensorFlow's ops; slower.")
    strategy: typing.Literal["default", "mirrored", "multiworker"] = option(
        "default", "tf.distribute strategy: default (one device), mirrored (the GPUs of this machine, or the CPU "
                   "split into --replicas devices), multiworker (the workers TF_CONFIG names).")
    replicas: int = option(0, "mirrored: replicas (0: one per GPU, or 1 without GPUs; without GPUs the CPU is "
                              "split into this many logical devices).")

    def __post_init__(self):
        if self.replicas < 0:
            raise ConfigError(f"replicas must be >= 0, got {self.replicas}")
        if self.replicas and self.strategy != "mirrored":
            raise ConfigError(f"replicas applies to --strategy mirrored, not {self.strategy}")
        for name in ("epochs", "log_interval"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be a positive integer, got {getattr(self, name)}")
        for name in ("seed", "checkpoint_interval"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        check_seed(self.seed)
        if self.epochs > MAX_EPOCHS:  # epochs x batches per epoch (the step count) must fit 64 bits
            raise ConfigError(f"epochs must be at most {MAX_EPOCHS:,}, got {self.epochs:,}")
        if self.replicas > MAX_REPLICAS:  # without GPUs, a list of that many logical devices
            raise ConfigError(f"replicas must be at most {MAX_REPLICAS}, got {self.replicas:,}")


def check_between(config, names, low, high=None):
    """A ConfigError naming the first of ``names`` (fields of ``config``; of a list field, any item) outside
    ``low..high``."""
    for name in names:
        value = getattr(config, name)
        for item in value if isinstance(value, tuple) else (value,):
            if item < low or (high is not None and item > high):
                bounds = f"in {low}..{high:,}" if high is not None else f">= {low}"
                raise ConfigError(f"{name} must be {'made of integers ' if isinstance(value, tuple) else ''}"
                                  f"{bounds}, got {list(value) if isinstance(value, tuple) else value}")


def check_seed(seed, what="seed"):
    if not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"{what} must be in 0..{MAX_SEED} (2**31-1), got {seed}")


def run_config_class(spec):
    """RL algorithms run on environments; supervised and generative models on datasets."""
    return RunConfig if spec.family == "rl" else DataRunConfig


def run_keys(spec):
    return tuple(f.name for f in dataclasses.fields(run_config_class(spec)))


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
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


MAX_CONFIG_BYTES = 16 * 2**20


def load_file(path):
    import yaml

    from advdl.runs.folder import read_bytes

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


def resolve(spec, *, env=None, preset=None, file_data=None, run_flags=None, hyper_flags=None, data=None):
    """Merge defaults < preset < config file < flags into (run config, algorithm config, preset)."""
    file_data = dict(file_data or {})
    rl = spec.family == "rl"
    target = (env or file_data.get("env") or "") if rl else (data or file_data.get("data") or "")
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
        target = target or chosen.get("env" if rl else "data", "")
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
    key = "env" if rl else "data"
    run_values[key] = target or run_values.get(key, "")
    run_config = build(run_config_class(spec), run_values, "run settings")
    if rl and not run_config.env:
        raise ConfigError(f"no environment given: use --env ENV_ID (for example --env {_example_env(spec)})")
    if not rl and not run_config.data:
        raise ConfigError("no dataset given: use --data NAME (for example --data mnist; `advdl list` shows them)")
    algo_config = build(spec.config, hyper_values, f"{spec.name} hyperparameters", also=run_keys(spec))
    return run_config, algo_config, preset


def _example_env(spec):
    envs = [p.get("env") or name for name, p in spec.presets.items() if "-v" in (p.get("env") or name)]
    return envs[0] if envs else "CartPole-v1"


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
