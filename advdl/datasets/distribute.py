"""tf.distribute for models on datasets: the strategy a run's ``--strategy`` names, and the train
step run on every replica.

- ``default``: one device, the model's own compiled step.
- ``mirrored``: every GPU of this machine (``--replicas N``: the first N); on a machine without
  GPUs the CPU is split into ``--replicas`` logical devices (a multi-device set-up to test with).
- ``multiworker``: one replica per worker process, the workers named by ``TF_CONFIG`` (every
  worker runs the same ``advdl run`` command; the chief, or worker 0 without one, writes the run
  folder, the others a temporary one).

Each replica trains on its slice of the global batch (``--batch-size`` stays the global batch)
and scales its gradients by ``1 / replicas`` (``replica_gradients``): the optimizer sums the
replicas' gradients, so the update is the global batch's mean gradient, as on one device. The metrics are
the replicas' mean.
"""


import numpy as np

from advdl.api.backend import replica_gradients, replicas_in_sync  # noqa: F401 - re-exported
from advdl.api.errors import ConfigError
from advdl.runs.workers import is_chief, worker_task  # noqa: F401 - re-exported

STRATEGIES = ("default", "mirrored", "multiworker")


def make_strategy(name, replicas=0):
    """The tf.distribute strategy, or None for ``default``. Sets up the devices first, so call it
    before anything else starts TensorFlow in this process."""
    if name not in STRATEGIES:
        raise ConfigError(f"strategy must be one of {', '.join(STRATEGIES)}, got {name!r}")
    if name == "default":
        return None
    if name == "multiworker" and worker_task() is None:
        raise ConfigError("--strategy multiworker needs TF_CONFIG naming the workers and this process's task "
                          "(see the README's 'Distributed training')")
    from advdl.api.backend import import_tensorflow

    made = {}

    def setup(tf):  # runs before TensorFlow initialises its devices
        if name == "multiworker":
            # collective ops are configured when the strategy is made, before the first op
            made["strategy"] = tf.distribute.MultiWorkerMirroredStrategy()
        elif replicas > 1 and not tf.config.list_physical_devices("GPU"):
            cpu = tf.config.list_physical_devices("CPU")[0]
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)

    tf, _ = import_tensorflow(setup=setup)
    if name == "multiworker":
        if "strategy" not in made:
            raise ConfigError("--strategy multiworker must start TensorFlow itself: run it in a fresh process")
        return made["strategy"]
    gpus = tf.config.list_logical_devices("GPU")
    devices = gpus or tf.config.list_logical_devices("CPU")
    if replicas > len(devices):
        kind = "GPUs" if gpus else "logical CPU devices (TensorFlow had started before they could be made)"
        raise ConfigError(f"--replicas {replicas} asks for more devices than the {len(devices)} {kind}")
    count = replicas or (len(gpus) if gpus else 1)
    return tf.distribute.MirroredStrategy([d.name for d in devices[:count]])


class DistributedStep:
    """``model.train_graph`` on every replica with its slice of the batch; the metrics' mean."""

    def __init__(self, strategy, model):
        import tensorflow as tf

        self.strategy, self.model = strategy, model
        self.replicas = strategy.num_replicas_in_sync

        def step(images, labels):
            out = strategy.run(model.train_graph, args=(images, labels))
            return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in out.items()}

        self._step = tf.function(step)

    def __call__(self, images, labels):
        if len(images) < self.replicas:  # every replica needs an image: repeat the few there are
            images, labels = np.resize(images, (self.replicas, *images.shape[1:])), np.resize(labels, self.replicas)
        parts = np.array_split(np.arange(len(images)), self.replicas)
        value = self.strategy.experimental_distribute_values_from_function
        images = value(lambda ctx: images[parts[ctx.replica_id_in_sync_group]])
        labels = value(lambda ctx: labels[parts[ctx.replica_id_in_sync_group]])
        return {k: float(v) for k, v in self._step(images, labels).items()}
