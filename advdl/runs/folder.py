"""The run folder's guard: new runs only in new or empty folders, no links or special files, one writer.

A run folder may come from someone else (a shared or downloaded run resumed or evaluated here), so
before advdl reads or writes one it checks what is in it:

- ``scan``: every entry is a plain file or a folder, never a symbolic link (a write through it would
  change a file outside the run folder, a delete would remove one) nor a FIFO, device or socket (a
  read would hang or never end). What the run writes as a file is not a folder, and the reverse.
- ``check_new``: a new run goes only into a folder that does not exist yet or is empty.
- ``lock``: one process writes a run folder at a time (``fcntl.flock`` on ``.lock``, released by the
  kernel when the process dies, however it dies); a second one is refused, naming the first's PID.
- ``open_regular``: open a file inside the folder without following a link and only if it is a
  regular file (``O_NOFOLLOW | O_NONBLOCK``, checked on the open descriptor), so the checks above
  still hold if the folder changes after them.
"""

import errno
import os
import re
import shutil
import stat
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from advdl.api.errors import RunFolderError
from advdl.api.files import _KINDS, open_regular, read_bytes, remove_stale_temps  # noqa: F401 - re-exported: the guard's file primitives
from advdl.api.memory import format_bytes

LOCK_FILE = ".lock"
MIN_FREE_BYTES = 50 * 2**20  # the pre-flight check's floor: checkpoints, logs, the model
MAX_ENTRIES = 100_000  # a run folder holds a few hundred; past this the scan stops looking
# names advdl itself writes: each must be of its kind where it exists
FOLDERS = {"checkpoints", "tensorboard"}
FILES = {"config.yaml", "summary.json", "metrics.csv", "episodes.csv", "evaluations.csv", "epochs.csv",
         "learning_curve.png", "learning_curves.png", "seeds.yaml", "aggregate.json", "aggregate.png", LOCK_FILE}
_TEMP = re.compile(r"^\.config\.yaml\.tmp-\d+$")  # its config.yaml, half-written when it was killed



def check_new(path):
    """A new run goes into a folder that does not exist or is empty; anything else is refused before
    anything is written or deleted."""
    path = Path(path)
    if not os.path.lexists(path):
        return
    if not path.is_dir():
        raise RunFolderError(f"the run folder {path} is a file, not a folder")
    try:
        entries = sorted(os.listdir(path))
    except OSError as exc:
        raise RunFolderError(f"cannot read the run folder {path}: {exc.strerror}") from None
    if "config.yaml" in entries:
        raise RunFolderError(f"{path} already holds a run; resume it with --resume {path} or choose another --out")
    if LOCK_FILE in entries and all(e == LOCK_FILE or _TEMP.match(e) for e in entries):
        return  # an advdl run killed before it wrote its config.yaml: the same command starts it again
    if entries:
        shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise RunFolderError(f"{path} is not empty ({len(entries)} entries: {shown}); a new run goes into a new or "
                             f"empty folder: choose another --out")


def scan(path, folders=FOLDERS, files=FILES):
    """Refuse a run folder holding a symbolic link, a FIFO, device or socket, or one of advdl's own
    files replaced by a folder (or the reverse): one RunFolderError naming the entry."""
    root = Path(path)
    if not root.is_dir():
        raise RunFolderError(f"run folder not found: {root}")
    seen = 0
    for folder, dirnames, filenames in os.walk(root, onerror=_walk_error):
        for name in dirnames + filenames:
            seen += 1
            if seen > MAX_ENTRIES:
                return
            entry = Path(folder) / name
            try:
                mode = os.lstat(entry).st_mode
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise RunFolderError(f"cannot read {entry}: {exc.strerror}") from None
            top = Path(folder) == root
            if stat.S_ISLNK(mode):
                raise RunFolderError(f"{entry} is a symbolic link (to {_target(entry)}); advdl never reads or writes "
                                     f"through a link in a run folder: replace it with a copy of the file, or remove it")
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise RunFolderError(f"{entry} is {_KINDS.get(stat.S_IFMT(mode), 'not a regular file')}, not a file "
                                     f"advdl wrote; remove it")
            if top and name in folders and not stat.S_ISDIR(mode):
                raise RunFolderError(f"{entry} is a file where the run keeps a folder; move it aside")
            if top and name in files and stat.S_ISDIR(mode):
                raise RunFolderError(f"{entry} is a folder where the run keeps a file; move it aside")


def _walk_error(exc):
    raise RunFolderError(f"cannot read {exc.filename}: {exc.strerror}")


def _target(link):
    try:
        return os.readlink(link)
    except OSError:
        return "?"


def prepare(path):
    """Pre-flight check before any training: create the folder, check it takes a file and its disk has
    MIN_FREE_BYTES free, delete the temp files of a process killed while writing."""
    path = Path(path)
    if os.path.lexists(path) and not path.is_dir():
        raise RunFolderError(f"the run folder {path} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        reason = f"{blocker} is a file, not a folder" if blocker else exc.strerror
        raise RunFolderError(f"cannot create the run folder {path}: {reason}") from None
    try:
        with tempfile.TemporaryFile(dir=path) as probe:
            probe.write(b"advdl")
            probe.flush()
    except OSError as exc:
        raise RunFolderError(f"the run folder {path} is not writable: {exc.strerror}") from None
    free = shutil.disk_usage(path).free
    if free < MIN_FREE_BYTES:
        raise RunFolderError(f"only {format_bytes(free)} free on the disk of the run folder {path}; "
                             f"a run needs at least {format_bytes(MIN_FREE_BYTES)} for its checkpoints, "
                             f"logs and model")
    return path


def write_staged(folder, write):
    """``write(stage)`` into a fresh folder inside ``folder``, then each file it wrote renamed over its
    place in ``folder``: what a plugin writes (a model and the files beside it) replaces a link there,
    never writes through it, and a reader never sees half a file."""
    folder = Path(folder)
    stage = Path(tempfile.mkdtemp(prefix=".stage-", dir=folder))
    try:
        result = write(stage)
        for source in sorted(p for p in stage.rglob("*") if not p.is_dir()):
            target = folder / source.relative_to(stage)
            if target.is_dir() and not target.is_symlink():
                raise RunFolderError(f"cannot write {target}: a folder is in its place")
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
        return result
    finally:
        shutil.rmtree(stage, ignore_errors=True)


# -- one writer ------------------------------------------------------------------------------------
_held = {}  # resolved folder -> [open lock file, depth]: a process takes its own lock again freely


@contextmanager
def lock(path):
    """Hold the run folder's lock for the block; a folder locked by another process is a RunFolderError
    naming its PID. Re-entrant within a process (resume, then train, take it once)."""
    key = os.path.realpath(path)
    if key in _held:
        _held[key][1] += 1
        try:
            yield
        finally:
            _held[key][1] -= 1
        return
    handle = _acquire(Path(path))
    _held[key] = [handle, 1]
    try:
        yield
    finally:
        del _held[key]
        handle.close()  # the kernel drops the lock with the last descriptor


def _acquire(path):
    try:
        import fcntl
    except ImportError:  # Windows: no flock; one writer is then the user's to ensure
        return open(os.devnull, "rb")
    handle = open_regular(path / LOCK_FILE, "ab")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.close()
        if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            raise RunFolderError(f"cannot lock the run folder {path}: {exc.strerror}") from None
        holder = _holder(path / LOCK_FILE)
        raise RunFolderError(f"{path} is in use by another advdl process{f' (PID {holder})' if holder else ''}: a run "
                             f"folder has one writer at a time; wait for it to end, or stop it") from None
    os.ftruncate(handle.fileno(), 0)
    handle.write(f"{os.getpid()}\n".encode())
    handle.flush()
    return handle


def _holder(lock_path):
    try:
        text = read_bytes(lock_path, 64).decode(errors="replace").strip()
    except (OSError, RunFolderError):
        return None
    return text if text.isdigit() else None


# -- a new run's folder ----------------------------------------------------------------------------
class Guard:
    """What ``opened`` yields: set ``started`` once training begins (a folder made for a run that fails
    before that is removed again)."""

    def __init__(self, path, created):
        self.path, self.created, self.started = Path(path), created, False


@contextmanager
def opened(path, new):
    """The run folder for a run: checked (``check_new`` for a new run), created, pre-flight checked,
    scanned and locked for the block. A new folder whose run fails before training starts is removed
    (only what advdl put there: its lock and config.yaml; never anything else)."""
    path = Path(path)
    if new:
        check_new(path)
    created = new and not os.path.lexists(path)
    prepare(path)
    guard = Guard(path, created)
    try:
        with lock(path):
            scan(path)
            for folder in (path, path / "checkpoints"):
                remove_stale_temps(folder)
            yield guard
    except BaseException:
        if guard.created and not guard.started:
            discard(path)
        raise


def discard(path):
    """Remove a folder advdl created for a run that never started: its lock file and config.yaml, then
    the folder if that left it empty."""
    for name in (LOCK_FILE, "config.yaml"):
        try:
            (Path(path) / name).unlink(missing_ok=True)
        except OSError:
            pass
    try:
        Path(path).rmdir()
    except OSError:
        pass  # not empty (someone else's file appeared) or gone: leave it


def warn(message):
    print(f"advdl: {message}", file=sys.stderr)
