"""Checkpoints: one file per checkpoint, written atomically and verified on load.

Layout: ``b"ADVDL-CKPT-1\\n"``, a SHA-256 of the payload, the payload (a pickle of plain
Python and numpy values). A torn or edited file fails the checksum and is reported as corrupt.
"""

import hashlib
import os
import pickle
import re
from pathlib import Path

from .errors import CheckpointError

MAGIC = b"ADVDL-CKPT-1\n"
KEEP = 2
_NAME = re.compile(r"^step-(\d+)\.ckpt$")


def write_atomic(path, data):
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def save(directory, step, state):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    payload = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    path = directory / f"step-{step:010d}.ckpt"
    write_atomic(path, MAGIC + hashlib.sha256(payload).digest() + payload)
    for old in list_checkpoints(directory)[:-KEEP]:
        old.unlink(missing_ok=True)
    return path


def list_checkpoints(directory):
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if _NAME.match(p.name)]
    return sorted(found, key=lambda p: int(_NAME.match(p.name).group(1)))


def load(path):
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror}") from None
    header = len(MAGIC) + 32
    if not data.startswith(MAGIC) or len(data) < header:
        raise CheckpointError(f"checkpoint {path} is corrupt (not an advdl checkpoint)")
    digest, payload = data[len(MAGIC):header], data[header:]
    if hashlib.sha256(payload).digest() != digest:
        raise CheckpointError(f"checkpoint {path} is corrupt (checksum mismatch: truncated or modified)")
    try:
        return pickle.loads(payload)
    except Exception as exc:
        raise CheckpointError(f"checkpoint {path} is corrupt ({type(exc).__name__})") from None


def load_latest(directory):
    found = list_checkpoints(directory)
    if not found:
        raise CheckpointError(f"no checkpoint in {directory}: nothing to resume")
    return load(found[-1])
