"""Config files (YAML) as ``config.yaml`` holds them, read safely: a regular file of at most 16 MB, a
mapping of settings, no alias bomb.

A config file looks like the ``config.yaml`` every run writes, so a run can be re-run with
``--config RUN_DIR/config.yaml``::

    algorithm: dqn
    env: CartPole-v1
    steps: 50000
    seed: 0
    hyperparameters: {learning_rate: 0.001, hidden_sizes: [256, 256]}
"""

from pathlib import Path

from advdl.api.errors import ConfigError, RunFolderError

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
