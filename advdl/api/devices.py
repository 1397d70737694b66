"""What the machine offers a run: GPUs, CPU features, the arithmetic ``precision=auto`` picks, whether
each kind of step is compiled with XLA. ``advdl system`` prints it; models ask ``resolve_precision``.

``choose_precision`` is the rule, a pure function of the device facts (tested with made-up devices):

- ``float32``, ``bfloat16`` (Keras ``mixed_bfloat16``), ``mixed_float16``: as asked;
- ``auto`` with GPUs: ``mixed_bfloat16`` when every GPU has compute capability 8.0 or more (Ampere,
  Hopper: bfloat16 tensor cores at float16's speed, float32's range, no loss scaling); ``mixed_float16``
  with loss scaling from 7.0 (Volta, Turing: float16 tensor cores only); ``float32`` below;
- ``auto`` without a GPU: ``mixed_bfloat16`` on a CPU with native bfloat16 instructions
  (avx512_bf16, AMX), else ``float32``.

Mixed policies keep float32 weights, and advdl's models keep their outputs and losses in float32.
"""

from typing import NamedTuple

PRECISIONS = ("auto", "float32", "bfloat16", "mixed_float16")
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16",
             "amx_int8")
# which steps are XLA-compiled, by device type: measured on CPU (GAN and convolution steps were 3-11x
# slower with XLA there, and XLA has no deterministic max-pooling gradient); on a GPU XLA usually wins
JIT = {"cpu": {"rl_update": True, "rl_cnn_update": False, "classifier_step": False, "gan_step": False,
               "autoencoder_step": False},
       "gpu": {"rl_update": True, "rl_cnn_update": True, "classifier_step": False, "gan_step": True,
               "autoencoder_step": True}}


class Gpu(NamedTuple):
    name: str
    compute_capability: tuple = None  # (major, minor)
    memory_bytes: int = None


def cpu_flags():
    """The CPU's features among CPU_FLAGS (Linux /proc/cpuinfo; empty elsewhere)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = set(next((line for line in cpuinfo if line.startswith("flags")), "").split())
    except OSError:
        return []
    return [flag for flag in CPU_FLAGS if flag in flags]


def cpu_has_native_bfloat16(flags=None):
    """True on a CPU with bfloat16 dot-product instructions (AVX512_BF16 or AMX)."""
    flags = cpu_flags() if flags is None else flags
    return "avx512_bf16" in flags or "amx_bf16" in flags


def choose_precision(setting, gpus, cpu_bfloat16):
    """(Keras dtype policy, why) for a ``precision`` setting on these devices (see the module's rule)."""
    if setting == "float32":
        return "float32", "asked"
    if setting == "bfloat16":
        return "mixed_bfloat16", "asked"
    if setting == "mixed_float16":
        return "mixed_float16", "asked (with loss scaling)"
    if gpus:
        capabilities = [g.compute_capability for g in gpus]
        if all(c is not None and c >= (8, 0) for c in capabilities):
            return "mixed_bfloat16", "auto: GPUs of compute capability 8.0 or more (bfloat16 tensor cores)"
        if all(c is not None and c >= (7, 0) for c in capabilities):
            return "mixed_float16", "auto: GPUs of compute capability 7.x (float16 tensor cores; loss scaling)"
        return "float32", "auto: GPUs below compute capability 7.0 (no tensor cores)"
    if cpu_bfloat16:
        return "mixed_bfloat16", "auto: no GPU, a CPU with native bfloat16 instructions"
    return "float32", "auto: no GPU, no native bfloat16 on the CPU"


def gpus():
    """The GPUs TensorFlow sees (imports TensorFlow)."""
    from advdl.api.backend import import_tensorflow

    tf, _ = import_tensorflow()
    found = []
    for device in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(device)
        found.append(Gpu(details.get("device_name", device.name), details.get("compute_capability"),
                         _gpu_memory(len(found))))
    return found


def _gpu_memory(index):
    """Total memory of GPU ``index`` from nvidia-smi (TensorFlow reports only what it allocated)."""
    import shutil
    import subprocess

    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10).stdout.split()
        return int(float(out[index]) * 2**20)
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return None


def resolve_precision(setting, cpu_bfloat16=True):
    """(Keras dtype policy, why) of a ``precision`` setting on this machine. ``cpu_bfloat16=False``: a model
    for which bfloat16 does not pay on a CPU (auto then keeps float32 there)."""
    if setting == "auto" and not cpu_bfloat16:
        found = gpus()
        if not found:
            return "float32", "auto: no GPU (this model computes in float32 on a CPU)"
        return choose_precision(setting, found, False)
    return choose_precision(setting, gpus() if setting == "auto" else [], cpu_has_native_bfloat16())


def use_bfloat16(precision):
    """Whether a ``precision`` setting resolves to bfloat16 on this machine."""
    return resolve_precision(precision)[0] == "mixed_bfloat16"


def jit_compile(kind):
    """Whether a step of ``kind`` (a key of JIT) is XLA-compiled on this machine's device (GPU if any)."""
    return JIT["gpu" if gpus() else "cpu"][kind]


def optimizer_for(keras, optimizer, policy):
    """``optimizer`` wrapped in Keras' LossScaleOptimizer under ``mixed_float16`` (float16's range needs the
    loss scaled up before the gradients and the gradients down after; a non-finite step is skipped)."""
    return keras.optimizers.LossScaleOptimizer(optimizer) if policy == "mixed_float16" else optimizer


class policy_scope:
    """``with policy_scope(keras, policy):`` the layers built inside compute in ``policy`` (Keras' global dtype
    policy, set back on leaving)."""

    def __init__(self, keras, policy):
        self.keras, self.policy = keras, policy

    def __enter__(self):
        self.previous = self.keras.config.dtype_policy()
        self.keras.config.set_dtype_policy(self.policy)

    def __exit__(self, *exc):
        self.keras.config.set_dtype_policy(self.previous)


def float32_outputs(keras, model):
    """``model`` (its layers, its weights) with every output cast to float32 by a float32 layer: a mixed-precision
    network's outputs as float32 code downstream expects them. Unchanged when it computes in float32."""
    if all(out.dtype == "float32" for out in model.outputs):
        return model
    outs = [keras.layers.Activation("linear", dtype="float32")(out) for out in model.outputs]
    return keras.Model(model.inputs, outs if len(outs) > 1 else outs[0], name=model.name)
