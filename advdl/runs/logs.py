"""What a run writes while it trains: metrics.csv, episodes.csv, TensorBoard events, progress."""

import csv
import io
import os
import socket
import struct
import sys
import time
from pathlib import Path

from advdl.runs.folder import open_regular, read_bytes

EPISODE_COLUMNS = ("episode", "env_steps", "return", "length", "terminated")


def _crc32c_table():
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc32c_table()


def _masked_crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


class _LogFile:
    """An append-only log file (``self._fh``): flush, sync to the disk, close."""

    def flush(self):
        self._fh.flush()

    def sync(self):
        """Flush to the disk itself (a checkpoint's logs survive a power cut with it)."""
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self):
        self._fh.close()


class TensorBoardWriter(_LogFile):
    """Scalars to a TensorBoard event file (TFRecord framing), without importing TensorFlow.

    tensorboard's own EventFileWriter imports TensorFlow when it is installed (5 s here), so
    the few lines of record framing are written out instead.
    """

    def __init__(self, log_dir, suffix="advdl"):
        from tensorboard.compat.proto import event_pb2

        self._event_pb2 = event_pb2
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}.{suffix}"
        self._fh = open_regular(Path(log_dir) / name, "ab")
        self._write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))

    def _write(self, event):
        data = event.SerializeToString()
        header = struct.pack("<Q", len(data))
        self._fh.write(header + struct.pack("<I", _masked_crc32c(header)) + data
                       + struct.pack("<I", _masked_crc32c(data)))

    def scalars(self, values, step):
        from tensorboard.compat.proto import summary_pb2

        summary = summary_pb2.Summary(value=[
            summary_pb2.Summary.Value(tag=tag, simple_value=float(v))
            for tag, v in values.items() if v is not None and v == v
        ])
        self._write(self._event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary))

    def summary(self, summary, step=0):
        """A Summary proto: tensorboard's own, or TensorFlow's (what tensorboard's helpers return once TensorFlow
        is imported), re-read as the event's class."""
        from tensorboard.compat.proto import summary_pb2

        summary = summary_pb2.Summary.FromString(summary.SerializeToString())
        self._write(self._event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary))


def write_hparams(log_dir, settings, metrics, step):
    """The run's settings (``config.yaml``'s content) and final metrics for TensorBoard's HPARAMS tab: a
    session-start summary and each metric as ``hparams/NAME`` at the last step, in an event file of their
    own (tensorboard's protos only: no TensorFlow). The tab then compares runs (a sweep's trials, a
    multi-seed run's seeds) side by side."""
    from tensorboard.plugins.hparams import summary_v2

    from advdl.api.options import flat_settings

    writer = TensorBoardWriter(log_dir, suffix="hparams")
    try:
        writer.summary(summary_v2.hparams_pb(flat_settings(settings), start_time_secs=time.time()))
        writer.scalars({f"hparams/{k}": v for k, v in metrics.items() if isinstance(v, (int, float))}, step)
    finally:
        writer.close()



def truncate_csv(path, key, limit):
    """Drop rows whose ``key`` column exceeds ``limit`` (rows written after the checkpoint) and a
    torn last line (a process killed while writing it); the file is replaced atomically, so a kill
    during this rewrite loses nothing either. Returns the number of rows kept (None: no file)."""
    from advdl.runs.checkpoint import write_atomic

    path = Path(path)
    if not os.path.lexists(path):
        return None
    data = read_bytes(path)
    complete = data[:data.rfind(b"\n") + 1]  # a log is appended to: only its last line can be torn
    rows = list(csv.reader(io.StringIO(complete.decode(errors="replace"), newline="")))
    if rows and key not in rows[0]:
        from advdl.api.errors import CheckpointError

        raise CheckpointError(f"cannot resume: {path} is damaged (its first line is not its header, no "
                              f"'{key}' column); move it aside to continue without its rows")
    column = rows[0].index(key) if rows else 0
    kept = rows[:1] + [r for r in rows[1:] if len(r) == len(rows[0]) and _at_most(r[column], limit)]
    if kept != rows or len(complete) != len(data):
        out = io.StringIO(newline="")
        csv.writer(out).writerows(kept)
        write_atomic(path, out.getvalue().encode())
    return max(len(kept) - 1, 0)


def recover_logs(run_dir, logs, limit, counted, unit):
    """Each ``(name, key)`` log of ``run_dir`` cut back to the checkpoint (rows whose ``key`` is at most
    ``limit``), with a line for rows lost since the checkpoint ``counted`` them; returns {name: rows}."""
    rows = {}
    for name, key in logs:
        kept = truncate_csv(Path(run_dir) / name, key, limit)
        report_lost_rows(Path(run_dir) / name, kept, counted.get(name), unit)
        rows[name] = kept or 0
    return rows


def counted_rows(state):
    """The CSV rows a checkpoint counted, by log (a checkpoint of an advdl that did not count them: none)."""
    rows = state.get("log_rows")
    return {k: v for k, v in rows.items() if type(v) is int and v >= 0} if isinstance(rows, dict) else {}


def report_lost_rows(path, kept, expected, unit):
    """One line when a log holds fewer rows up to the checkpoint than the checkpoint counted (the file
    was cut short or edited): what was recovered and what was lost."""
    if expected is not None and kept is not None and kept < expected:
        print(f"advdl: {Path(path).name}: {kept} of the {expected} rows up to the checkpoint ({unit}) recovered, "
              f"{expected - kept} lost (the file was cut short or edited)", file=sys.stderr)
    elif expected and kept is None:
        print(f"advdl: {Path(path).name} is missing: its {expected} rows up to the checkpoint ({unit}) are lost; "
              f"it starts again from here", file=sys.stderr)


def _at_most(value, limit):
    try:
        return float(value) <= limit
    except ValueError:
        return False


class CsvLog(_LogFile):
    """Appends rows to a CSV file, writing the header once."""

    def __init__(self, path, columns, rows=0):
        self.columns = tuple(columns)
        self._fh = open_regular(path, "a")
        self.rows = rows  # data rows in the file (those already there, as the caller counted them)
        self._writer = csv.writer(self._fh)
        if os.fstat(self._fh.fileno()).st_size == 0:
            self._writer.writerow(self.columns)
            self.rows = 0

    def write(self, row):
        self._writer.writerow([_fmt(row.get(c)) for c in self.columns])
        self.rows += 1



def _fmt(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def read_columns(path, *columns):
    """Numeric columns of a CSV log as lists of floats; a row that is damaged there (not a number, cut
    short, not UTF-8) is skipped, so a damaged log still plots."""
    out = [[] for _ in columns]
    with open_regular(path, "r") as fh:
        try:
            for row in csv.DictReader(fh):
                try:
                    values = [float(row[c]) for c in columns]
                except (KeyError, TypeError, ValueError):
                    continue
                for column, value in zip(out, values):
                    column.append(value)
        except csv.Error:  # e.g. a field over the csv module's size limit: keep the rows before it
            pass
    return out


class Progress:
    """A tqdm bar of env steps with the recent return and steps/s (the bar is off when stderr is
    not a terminal); evaluation lines go to stderr unless disabled."""

    def __init__(self, total, initial, enabled, unit="step"):
        from tqdm import tqdm

        self.enabled = enabled
        self._bar = tqdm(total=total, initial=initial, unit=unit, dynamic_ncols=True,
                         disable=None if enabled else True, smoothing=0.1)

    def update_to(self, n, **postfix):
        self._bar.update(n - self._bar.n)
        if postfix:
            self._bar.set_postfix({k: v for k, v in postfix.items() if v is not None}, refresh=False)

    def write(self, message):
        if self.enabled:
            self._bar.write(message, file=sys.stderr)

    def close(self):
        self._bar.close()
