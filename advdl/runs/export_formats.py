"""The export formats: how each writes a Keras model and how its own runtime runs the written file.

- ``savedmodel``: Keras' ``model.export(format="tf_saved_model")``, run by ``tf.saved_model.load``.
- ``tflite``: Keras' ``model.export(format="litert")`` (TensorFlow's TFLite converter), run by the LiteRT
  interpreter (``ai_edge_litert``, the ``tflite`` extra, when installed; else ``tf.lite.Interpreter``).
- ``onnx``: Keras' ``model.export(format="onnx")`` (tf2onnx), run by onnxruntime (the ``onnx`` extra).

A runtime is a function ``inputs -> list of outputs``, ``inputs`` one numpy array per model input, in the
model's input order.
"""

from pathlib import Path

import numpy as np

from advdl.api.errors import ConfigError

SUFFIX = {"savedmodel": "", "tflite": ".tflite", "onnx": ".onnx"}
NEEDS = {"onnx": ("tf2onnx", "onnx", "onnxruntime")}


def check_available(fmt):
    """A one-line error naming what a format needs that is not installed."""
    from importlib.util import find_spec

    missing = [name for name in NEEDS.get(fmt, ()) if find_spec(name) is None]
    if missing:
        raise ConfigError(f"--format {fmt} needs {', '.join(missing)}: pip install 'advdl[{fmt}]'")


def write(fmt, model, path):
    import warnings

    keras_format = {"savedmodel": "tf_saved_model", "tflite": "litert", "onnx": "onnx"}[fmt]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # tf2onnx's own use of numpy names
        model.export(str(path), format=keras_format, verbose=False)


def input_names(model):
    return [t.name.split(":")[0] for t in model.inputs]


def runtime(fmt, path, names=None):
    """The written file at ``path``, loaded in its own runtime; ``names`` are the model's input names, in its
    order (None: the file's own). Inputs are cast to the dtypes the file declares."""
    try:
        return {"savedmodel": _saved_model, "tflite": _tflite, "onnx": _onnx}[fmt](Path(path), names)
    except ConfigError:
        raise
    except Exception as exc:  # a damaged or foreign file
        raise ConfigError(f"cannot load {path} as {fmt}: {type(exc).__name__}: {first_line(exc)}") from None


def first_line(exc, limit=300):
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else ""


def format_of(path):
    """The format of an exported file or folder, by its name and content; a one-line error otherwise."""
    path = Path(path)
    if path.is_dir() and (path / "saved_model.pb").is_file():
        return "savedmodel"
    if path.is_file() and path.suffix in (".onnx", ".tflite"):
        return path.suffix[1:]
    if not path.exists():
        raise ConfigError(f"exported model not found: {path}")
    raise ConfigError(f"{path} is not an exported model (a .onnx or .tflite file, or a SavedModel folder with "
                      f"saved_model.pb)")


def _saved_model(path, names):
    import tensorflow as tf

    serving = tf.saved_model.load(str(path)).signatures["serving_default"]
    specs = serving.structured_input_signature[1]
    names = _resolve(names, list(specs))

    def run(inputs):
        out = serving(**{name: tf.constant(np.asarray(value), specs[name].dtype) for name, value in zip(names, inputs)})
        return [out[key].numpy() for key in sorted(out, key=_output_index)]

    return run


def _tflite(path, names):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's notice that LiteRT replaces it
        interpreter = Interpreter(model_path=str(path))
    signature = interpreter.get_signature_runner()  # named inputs and outputs; it resizes to the batch
    details = signature.get_input_details()
    names = _resolve(names, list(details))

    def run(inputs):
        out = signature(**{name: np.asarray(value, details[name]["dtype"]) for name, value in zip(names, inputs)})
        return [np.asarray(out[key]) for key in sorted(out, key=_output_index)]

    return run


def _output_index(key):
    """Keras names an exported model's outputs output_0, output_1, ...: their order."""
    tail = key.rsplit("_", 1)[-1]
    return (int(tail), key) if tail.isdigit() else (0, key)


ONNX_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
              "tensor(int32)": np.int32, "tensor(int8)": np.int8, "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_}


def _onnx(path, names):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    entries = {entry.name: entry for entry in session.get_inputs()}
    names = _resolve(names, list(entries))

    def run(inputs):
        feed = {name: np.asarray(value, ONNX_TYPES.get(entries[name].type)) for name, value in zip(names, inputs)}
        return [np.asarray(v) for v in session.run(None, feed)]

    return run


def _resolve(names, found):
    """The model's input names as the file knows them: its own when none are given, or for a single input
    named otherwise (Keras names an unnamed input after its layer)."""
    if not names or (len(names) == len(found) == 1):
        return found
    if set(names) != set(found):
        raise ConfigError(f"the exported file's inputs {found} are not the model's {names}")
    return names
