"""``advdl export``: a finished run's inference models written as SavedModel, TFLite or ONNX, each file run
by its own runtime on real inputs and compared with the Keras model before it is put in place.

What a run exports is its algorithm's ``export_parts`` (``advdl.api.ExportPart``, one Keras model per part:
an agent's policy, a classifier, a generator, an encoder and a decoder). The runner of the run's family
supplies the real inputs: an RL run's observations of greedy episodes (and the agent's own actions on them,
which the exported policy must reproduce), a dataset run's held-out images.
"""

import os
import shutil
import tempfile
import time
import warnings
from difflib import get_close_matches
from pathlib import Path

import numpy as np

from advdl.api.errors import ConfigError
from advdl.runs import export_formats as formats

FORMATS = tuple(formats.SUFFIX)


class ExportMismatch(ConfigError):
    """The exported file computes something else than the Keras model (beyond the part's tolerance)."""


def destinations(run_dir, parts, fmt, out, part):
    """{part: path}. One part: ``out`` is its file (a folder for SavedModel); several: ``out`` is the folder
    that receives one ``PART.EXT`` each. Default: RUN_DIR/export/."""
    names = list(parts)
    if part is not None:
        if part not in parts:
            close = get_close_matches(part, names, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"--part '{part}' is not a part of this run's export{hint}; it has: {', '.join(names)}")
        names = [part]
    suffix = formats.SUFFIX[fmt] or "_savedmodel"
    if out is not None and len(names) == 1:
        return {names[0]: Path(out)}
    folder = Path(out) if out is not None else Path(run_dir) / "export"
    return {name: folder / f"{name}{suffix}" for name in names}


def export_run(run_dir, registry, fmt, out=None, part=None, force=False, report=print):
    """Write, verify and place each part; returns one record per part (path, bytes, seconds, max_difference)."""
    from advdl.runs.start import read_run, runner_for

    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format '{fmt}'; choose one of {', '.join(FORMATS)}")
    formats.check_available(fmt)
    spec, run_config, algo_config = read_run(run_dir, registry)
    runner = runner_for(spec, registry)
    parts, expected = runner.export_parts(Path(run_dir), run_config, algo_config)
    targets = destinations(run_dir, parts, fmt, out, part)
    for path in targets.values():
        if os.path.lexists(path) and not force:
            raise ConfigError(f"{path} exists; pass --force to replace it, or choose another --out")
    records = []
    for name, path in targets.items():
        records.append(_export_part(name, parts[name], expected.get(name), fmt, path))
        report(describe(records[-1]))
    return records


def _export_part(name, part, expected, fmt, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".export-", dir=path.parent))
    try:
        staged = stage / f"{name}{formats.SUFFIX[fmt]}"  # the converters want their suffix; placed under path's name
        inputs = [np.asarray(x) for x in part.inputs]
        with warnings.catch_warnings():  # Keras' notice when one input comes bare for a model built with a list
            warnings.simplefilter("ignore", UserWarning)
            reference = part.model(inputs if len(inputs) > 1 else inputs[0])  # export needs a called model
        started = time.perf_counter()
        try:
            formats.write(fmt, part.model, staged)
        except Exception as exc:  # a converter's failure on an op it lacks: name the part and the format
            raise ConfigError(f"cannot export the {name} as {fmt}: {type(exc).__name__}: "
                              f"{formats.first_line(exc)}") from None
        seconds = time.perf_counter() - started
        record = {"part": name, "format": fmt, "path": str(path), "bytes": _size(staged),
                  "export_seconds": round(seconds, 3), "inputs": len(part.inputs[0]),
                  **verify(name, part, reference, expected, staged, fmt)}
        if os.path.lexists(path):  # --force: the old export goes only once the new one is verified
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        os.replace(staged, path)
        return record
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def verify(name, part, reference, expected, path, fmt):
    """Run the exported file at ``path`` on the part's inputs in the format's runtime; compare with the Keras
    model's ``reference`` outputs (and with ``expected``, the learner's own outputs, e.g. an agent's actions);
    raise ExportMismatch past the tolerance."""
    inputs = [np.asarray(x) for x in part.inputs]
    reference = [np.asarray(r) for r in (reference if isinstance(reference, (list, tuple)) else [reference])]
    try:
        got = formats.runtime(fmt, path, formats.input_names(part.model))(inputs)
    except ConfigError:
        raise
    except Exception as exc:  # e.g. an op the runtime lacks
        raise ExportMismatch(f"the exported {name} does not run in {fmt}'s runtime: {type(exc).__name__}: "
                             f"{formats.first_line(exc)}") from None
    if len(got) != len(reference) or any(g.shape != r.shape for g, r in zip(got, reference)):
        raise ExportMismatch(f"the exported {name} gives outputs of shapes {[g.shape for g in got]}, the Keras model "
                             f"{[r.shape for r in reference]}")
    difference = max(float(np.max(np.abs(g.astype(np.float64) - r.astype(np.float64)), initial=0.0))
                     for g, r in zip(got, reference))
    if not difference <= part.tolerance:
        raise ExportMismatch(f"the exported {name} differs from the Keras model by up to {difference:.3g} "
                             f"(tolerance {part.tolerance:g}) on {len(inputs[0])} inputs; the file was not kept")
    record = {"max_difference": difference}
    if expected is not None:
        expected = np.asarray(expected)
        action = got[0].reshape(expected.shape).astype(np.float64)
        if np.issubdtype(expected.dtype, np.integer) or expected.dtype == bool:
            agree = int(np.sum(np.all((action == expected).reshape(len(expected), -1), axis=1)))
        else:
            agree = int(np.sum(np.all(np.abs(action - expected).reshape(len(expected), -1) <= part.tolerance, axis=1)))
        if agree != len(expected):
            raise ExportMismatch(f"the exported {name} chooses the agent's own action on {agree} of {len(expected)} "
                                 f"observations of a greedy episode; the file was not kept")
        record["actions_agree"] = f"{agree}/{len(expected)}"
    return record


def describe(record):
    agree = f", actions agree on {record['actions_agree']} observations" if "actions_agree" in record else ""
    return (f"Exported {record['part']} as {record['format']}: {record['path']} ({_human(record['bytes'])}, "
            f"{record['export_seconds']:.1f} s); verified on {record['inputs']} inputs: max difference "
            f"{record['max_difference']:.2g}{agree}")


def _size(path):
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _human(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
