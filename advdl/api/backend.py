"""Importing TensorFlow for plugins: once, quietly.

TensorFlow's native start-up messages (oneDNN notices, CUDA probes on a CPU machine) ignore
TF_CPP_MIN_LOG_LEVEL in current releases and bury a run's output. ``import_tensorflow()`` sends
the process's native stderr to /dev/null while TensorFlow loads and probes its devices; Python
exceptions still propagate with their messages. ``ADVDL_TF_LOGS=1`` keeps the messages.
"""

import os
import sys
from contextlib import contextmanager


@contextmanager
def _native_stderr_silenced():
    if os.environ.get("ADVDL_TF_LOGS") == "1":
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_strict = False  # --deterministic asked before TensorFlow started


def request_strict_determinism():
    """``--deterministic``: beyond TensorFlow's deterministic ops (always on with a seed), turn off
    oneDNN's custom CPU kernels and run TensorFlow's ops on one thread, so that not even thread
    scheduling can change a float. Both must be set before TensorFlow starts: returns False (and
    changes nothing) if it already has in this process."""
    global _strict
    if "tensorflow" in sys.modules:
        return False
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
    _strict = True
    return True


def import_tensorflow(seed=None, setup=None):
    """Return ``(tensorflow, keras)``, imported with TensorFlow's start-up noise silenced.

    With ``seed``: seed Python, numpy and TensorFlow and make TensorFlow's ops deterministic, so
    the same seed gives the same numbers on the same machine. ``setup(tf)`` runs once, before
    TensorFlow initialises its devices (logical devices, a multi-worker strategy), if this call
    is the first to import TensorFlow.
    """
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with _native_stderr_silenced():
            import tensorflow as tf

            if _strict:
                tf.config.threading.set_intra_op_parallelism_threads(1)
                tf.config.threading.set_inter_op_parallelism_threads(1)
            if setup is not None:
                setup(tf)
            tf.config.list_physical_devices()
            tf.constant(0.0).numpy()  # the first op initialises the devices (and their messages)
    import keras
    import tensorflow as tf

    if seed is not None:
        keras.utils.set_random_seed(seed)
        tf.config.experimental.enable_op_determinism()
    return tf, keras


def load_weights(network, path):
    """Set a Keras model's weights to those of the ``.keras`` file ``path`` (a CheckpointError if it cannot)."""
    import keras

    from advdl.api.errors import CheckpointError

    try:
        network.set_weights(keras.models.load_model(path, compile=False, safe_mode=True).get_weights())
    except Exception as exc:
        raise CheckpointError(f"cannot load model {path}: {type(exc).__name__}: {str(exc)[:200]}") from None


def replicas_in_sync():
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync


def replica_gradients(grads):
    """The gradients of a replica's mean loss, scaled for the optimizer's sum over the replicas
    (unchanged on one device): call it on every gradient list of a ``Model.train_graph``."""
    count = replicas_in_sync()
    return grads if count == 1 else [None if g is None else g / count for g in grads]


def rmsprop(keras, learning_rate, rho=0.9, epsilon=1e-7):
    """RMSprop with eps outside the root, as Keras 2 (which the book ran) and PyTorch (SB3) compute it:
    a = rho a + (1 - rho) g^2, p -= lr g / (sqrt(a) + eps). Keras 3's own RMSprop adds eps under the
    root, lr g / sqrt(a + eps): where gradients are small (a << eps) its steps are up to sqrt(eps / a)
    times shorter (A2C stayed at 0.12 on FrozenLake-4x4 with it; SB3's A2C, otherwise the same, 0.83)."""

    class RootEpsilonRMSprop(keras.optimizers.RMSprop):
        def update_step(self, gradient, variable, learning_rate):
            ops = keras.ops
            lr, gradient = ops.cast(learning_rate, variable.dtype), ops.cast(gradient, variable.dtype)
            velocity = self._velocities[self._get_variable_index(variable)]
            self.assign(velocity, ops.add(ops.multiply(self.rho, velocity),
                                          ops.multiply(1.0 - self.rho, ops.square(gradient))))
            self.assign_sub(variable, ops.divide(ops.multiply(lr, gradient), ops.add(ops.sqrt(velocity), self.epsilon)))

    return RootEpsilonRMSprop(learning_rate, rho=rho, epsilon=epsilon)


def _variables(part):
    import tensorflow as tf

    return [part.state] if isinstance(part, tf.random.Generator) else part.variables


def variables_state(parts):
    """{name: [numpy values]} of Keras models, optimizers and tf.random.Generators, for a checkpoint."""
    return {name: [v.numpy() for v in _variables(part)] for name, part in parts.items()}


def assign_state(parts, state):
    """Restore what ``variables_state`` returned."""
    for name, part in parts.items():
        for variable, value in zip(_variables(part), state[name]):
            variable.assign(value)
