"""Checkpoints: one file per checkpoint, written atomically and verified on load.

Layout: ``b"ADVDL-CKPT-3\\n"``, the payload's length (8 bytes, little-endian), a SHA-256 of the
payload, the payload: a numpy ``.npz`` archive (read with ``allow_pickle=False``) of the state's
arrays and byte strings, and ``__tree__``, the state's structure as JSON (dicts, lists, tuples,
numbers, strings; arrays and bytes by reference). Loading never unpickles: a planted checkpoint
cannot run code. It reads only a regular file (not a link, FIFO or device) whose size is what its
header says, and no more than the memory available; a torn or edited file fails the checksum
and is reported as corrupt. (The checksum finds damage, not intent: anyone can recompute it, so
the trainers check the types of what they load too.) ``ADVDL-CKPT-2`` files (no length) load too.
"""

import hashlib
import io
import json
import os
import re
import struct
import zipfile
from pathlib import Path

import numpy as np

from advdl.api.errors import CheckpointError, RunFolderError
from advdl.api.files import free_space_note, open_regular, remove_stale_temps, write_atomic  # noqa: F401 - re-exported: the checkpoint's file primitives
from advdl.api.memory import check_fits

MAGIC = b"ADVDL-CKPT-3\n"
V2_MAGIC = b"ADVDL-CKPT-2\n"  # the same without the length field (advdl 0.1 before the length)
OLD_MAGIC = b"ADVDL-CKPT-1\n"  # pickle payloads (advdl 0.1.0 before this format): refused
KEEP = 2
_NAME = re.compile(r"^step-(\d+)\.ckpt$")





def save(directory, step, state):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    payload = encode(state)
    path = directory / f"step-{step:010d}.ckpt"
    header = MAGIC + struct.pack("<Q", len(payload)) + hashlib.sha256(payload).digest()
    write_atomic(path, header + payload)
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
        with open_regular(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            magic = fh.read(len(MAGIC))
            if magic == OLD_MAGIC:
                raise CheckpointError(f"checkpoint {path} is in the pickle format of an older advdl, which is not "
                                      f"loaded (a pickle can run code); finish that run with the advdl that started it")
            if magic == MAGIC:
                field = fh.read(8)
                length = struct.unpack("<Q", field)[0] if len(field) == 8 else -1
                header = len(MAGIC) + 8 + 32
                if length != size - header:
                    raise CheckpointError(f"checkpoint {path} is corrupt (its header says {length} bytes of payload, "
                                          f"the file holds {max(size - header, 0)}: truncated or modified)")
            elif magic == V2_MAGIC:
                header, length = len(V2_MAGIC) + 32, size - len(V2_MAGIC) - 32
            else:
                raise CheckpointError(f"checkpoint {path} is corrupt (not an advdl checkpoint)")
            if length < 0:
                raise CheckpointError(f"checkpoint {path} is corrupt (truncated)")
            check_fits(length, f"checkpoint {path}", error=CheckpointError)
            digest, payload = fh.read(32), fh.read(length)
    except RunFolderError as exc:
        raise CheckpointError(f"cannot read checkpoint: {exc}") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror}") from None
    if len(payload) != length or hashlib.sha256(payload).digest() != digest:
        raise CheckpointError(f"checkpoint {path} is corrupt (checksum mismatch: truncated or modified)")
    try:
        return decode(payload)
    except Exception as exc:
        raise CheckpointError(f"checkpoint {path} is corrupt ({type(exc).__name__}: {str(exc)[:120]})") from None


# -- the payload: JSON structure + npz arrays, no pickle --------------------------------------------
def encode(state):
    """The payload of ``state``: plain values (dict, list, tuple, str, int, float, bool, None),
    numpy arrays and scalars, bytes. Anything else is a TypeError (a programming error)."""
    arrays = {}

    def tree(value):
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, np.generic):
            return value
        if isinstance(value, (np.ndarray, np.generic)):
            array = np.asarray(value)
            if array.dtype.hasobject:
                raise TypeError("checkpoints do not store arrays of Python objects")
            key = f"a{len(arrays)}"
            arrays[key] = array
            return {"__array__": key, "scalar": isinstance(value, np.generic)}
        if isinstance(value, (bytes, bytearray)):
            key = f"a{len(arrays)}"
            arrays[key] = np.frombuffer(bytes(value), np.uint8)
            return {"__bytes__": key}
        if isinstance(value, tuple):
            return {"__tuple__": [tree(v) for v in value]}
        if isinstance(value, list):
            return [tree(v) for v in value]
        if isinstance(value, dict):
            if all(isinstance(k, str) and not k.startswith("__") for k in value):
                return {k: tree(v) for k, v in value.items()}
            return {"__items__": [[tree(k), tree(v)] for k, v in value.items()]}
        raise TypeError(f"checkpoints store plain values and numpy arrays, not {type(value).__name__}")

    structure = json.dumps(tree(state)).encode()
    buffer = io.BytesIO()
    np.savez(buffer, __tree__=np.frombuffer(structure, np.uint8), **arrays)
    return buffer.getvalue()


def decode(payload):
    with zipfile.ZipFile(io.BytesIO(payload)) as members:  # stored, as np.savez writes: no zip bomb
        if any(m.compress_type != zipfile.ZIP_STORED for m in members.infolist()):
            raise ValueError("compressed members (advdl stores its arrays uncompressed)")
    with np.load(io.BytesIO(payload), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}

    def value(node):
        if isinstance(node, list):
            return [value(v) for v in node]
        if not isinstance(node, dict):
            return node
        if "__array__" in node:
            array = arrays[node["__array__"]]
            return array[()] if node.get("scalar") else array
        if "__bytes__" in node:
            return arrays[node["__bytes__"]].tobytes()
        if "__tuple__" in node:
            return tuple(value(v) for v in node["__tuple__"])
        if "__items__" in node:
            return {_hashable(value(k)): value(v) for k, v in node["__items__"]}
        return {k: value(v) for k, v in node.items()}

    return value(json.loads(arrays.pop("__tree__").tobytes()))


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key


def load_latest(directory, check=None, report=None):
    """The newest intact checkpoint's state. A damaged newest one (corrupt, or refused by ``check``, a
    function raising CheckpointError for a state that does not fit) falls back to the older one,
    saying so through ``report``; only when every kept checkpoint is damaged is it an error."""
    found = list_checkpoints(directory)
    if not found:
        raise CheckpointError(f"no checkpoint in {directory}: nothing to resume")
    problems = []
    for path in reversed(found):
        try:
            state = load(path)
            if check is not None:
                check(state, path)
        except CheckpointError as exc:
            problems.append(str(exc))
            continue
        if problems and report is not None:
            report(f"{problems[0]}; resuming from the older checkpoint {path.name} instead")
        return state
    raise CheckpointError(problems[0] if len(problems) == 1 else
                          f"{problems[0]}; the older checkpoints are damaged too ({problems[-1]})")
