"""Files written whole or not at all, and read only when they are what they claim: the primitives the
run folder, config files and figures share.

- ``write_atomic``: a temp file beside the target, fsynced, renamed over it; a failure leaves the
  old file and no temp file, and raises a RunFolderError naming the file and the free space;
- ``open_regular`` / ``read_bytes``: a regular file only, never through a link, never a FIFO or a
  device, at most so many bytes.
"""

import errno
import os
import re
import shutil
import stat
from pathlib import Path

from advdl.api.errors import RunFolderError
from advdl.api.memory import format_bytes

_TEMP = re.compile(r"^\..+\.tmp-(\d+)$")  # write_atomic's temp files: never a checkpoint name
_KINDS = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket"}


def write_atomic(path, data):
    """Write ``data`` to ``path`` so that a reader, or a process killed at any moment, finds the
    old file or the new one, never a part: a temp file beside it, fsynced, renamed over ``path``,
    the folder fsynced (so the rename survives a power cut). A failed write (a full disk, a
    read-only folder) removes its temp file, leaves ``path`` as it was and raises a
    RunFolderError naming the file and the free space."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb", opener=_no_follow) as fh:  # a link planted at the temp name is not followed
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise RunFolderError(f"cannot write {path}: {exc.strerror or exc}{free_space_note(path.parent)}") from None
        raise


def _no_follow(path, flags):
    return os.open(path, flags | getattr(os, "O_NOFOLLOW", 0), 0o644)


def _fsync_dir(directory):
    if os.name == "nt":  # no directory handles to fsync; NTFS journals the rename
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):  # filesystems without directory fsync
            raise
    finally:
        os.close(fd)


def free_space_note(directory):
    """' (12.5 MB free on its disk)' for the nearest existing folder of ``directory``, or ''."""
    directory = Path(directory).absolute()
    while not directory.is_dir() and directory != directory.parent:
        directory = directory.parent
    try:
        return f" ({format_bytes(shutil.disk_usage(directory).free)} free on its disk)"
    except OSError:
        return ""


def remove_stale_temps(directory):
    """Delete the temp files other processes' write_atomic left in ``directory`` (a process killed
    mid-write); returns their names. They never count as checkpoints (list_checkpoints ignores them)."""
    directory, removed = Path(directory), []
    if not directory.is_dir():
        return removed
    for p in directory.iterdir():
        match = _TEMP.match(p.name)
        if match and int(match.group(1)) != os.getpid() and p.is_file() and not p.is_symlink():
            p.unlink(missing_ok=True)
            removed.append(p.name)
        elif p.name.startswith(".stage-") and p.is_dir() and not p.is_symlink():  # runfolder.write_staged's
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p.name)
    return removed


def open_regular(path, mode="rb", max_bytes=None, follow_links=False):
    """``open(path, mode)`` for a regular file only: never through a symbolic link (the last part of
    the path; the folders above it are what ``scan`` checked), never a FIFO or device (opened
    non-blocking, checked on the descriptor), and for reading at most ``max_bytes`` long.
    Modes: "rb", "r", "ab", "a" (created if missing). ``follow_links``: a file the user named
    outside a run folder (a --config file) may be a link."""
    flags = {"r": os.O_RDONLY, "a": os.O_WRONLY | os.O_APPEND | os.O_CREAT}[mode[0]]
    flags |= getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow_links:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise RunFolderError(f"{path} is a symbolic link; advdl never reads or writes through a link in a "
                                 f"run folder: replace it with a copy of the file, or remove it") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else _KINDS.get(stat.S_IFMT(info.st_mode), "not a file")
            raise RunFolderError(f"{path} is {kind}, not a regular file")
        if max_bytes is not None and mode[0] == "r" and info.st_size > max_bytes:
            raise RunFolderError(f"{path} is {info.st_size} bytes, more than the {max_bytes} such a file can be")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, mode, **({} if "b" in mode else {"newline": "", "errors": "replace"}))
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path, max_bytes=None, follow_links=False):
    with open_regular(path, "rb", max_bytes, follow_links) as fh:
        return fh.read()
