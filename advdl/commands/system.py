"""advdl system: the devices TensorFlow sees, the CPU's features, the precision and XLA choices, versions."""

import json

import click


@click.command("system")
@click.option("--json", "as_json", is_flag=True, help="Print the facts as one JSON object.")
def system_command(as_json):
    """What this machine offers advdl's runs: GPUs (compute capability, memory), the CPU's features (AVX-512,
    bfloat16, AMX), the precision `auto` picks per family, which steps are XLA-compiled, and the versions of
    TensorFlow, Keras, CUDA and cuDNN."""
    facts = system_facts()
    if as_json:
        click.echo(json.dumps(facts, indent=2))
        return
    gpus = facts["devices"]["gpus"]
    click.echo("GPUs: " + ("; ".join(f"{g['name']} (compute capability {g['compute_capability']}, "
                                     f"{_gib(g['memory_bytes'])})" for g in gpus) if gpus else "none"))
    cpu = facts["devices"]["cpu"]
    click.echo(f"CPU: {cpu['model']}, {cpu['cores']} cores; features: {', '.join(cpu['flags']) or 'none of note'}")
    for family, choice in facts["precision"].items():
        click.echo(f"precision=auto, {family}: {choice['policy']} ({choice['why']})")
    click.echo(f"XLA ({facts['xla']['device']}): " + ", ".join(f"{k} {'on' if v else 'off'}"
                                                             for k, v in facts["xla"]["steps"].items()))
    click.echo("versions: " + ", ".join(f"{k} {v}" for k, v in facts["versions"].items()))


def _gib(n):
    return "memory unknown" if n is None else f"{n / 2**30:.1f} GiB"


def system_facts():
    from advdl.api.backend import import_tensorflow
    from advdl.api.devices import JIT, cpu_flags, gpus, resolve_precision
    from advdl.runs.family import versions

    tf, keras = import_tensorflow()
    found = gpus()
    build = tf.sysconfig.get_build_info()
    return {
        "devices": {"gpus": [g._asdict() for g in found],
                    "cpu": {"model": _cpu_model(), "cores": _cores(), "flags": cpu_flags()}},
        "precision": {family: dict(zip(("policy", "why"), resolve_precision("auto", cpu_bfloat16=bf16)))
                      for family, bf16 in (("generative (GANs)", True), ("supervised", False))}
                     | {"rl": {"policy": "float32", "why": "RL networks act through a float32 numpy forward pass"}},
        "xla": {"device": "gpu" if found else "cpu", "steps": JIT["gpu" if found else "cpu"]},
        "versions": versions() | {"tensorflow": tf.__version__, "keras": keras.__version__,
                                  "cuda_build": build.get("cuda_version"), "cudnn_build": build.get("cudnn_version")},
    }


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "unknown")
    except OSError:
        import platform

        return platform.processor() or "unknown"


def _cores():
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
