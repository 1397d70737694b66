"""Allocations sized by a user's settings (a replay buffer, a rollout, --n samples), checked against
the memory available before they are made: one line naming the setting, not a MemoryError (or the
kernel's OOM killer, for an allocation the kernel grants lazily and cannot back later)."""

import os
from pathlib import Path

from advdl.api.errors import ConfigError


def available_bytes():
    """Memory this process can still allocate without swapping: /proc/meminfo's MemAvailable (Linux),
    else the free physical pages (os.sysconf), capped by a cgroup's limit; None if nothing says."""
    available = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if available is None:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, OSError, ValueError):
            pass
    try:  # a container's limit (cgroup v2) can be far below the machine's memory
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            left = int(limit) - int(Path("/sys/fs/cgroup/memory.current").read_text())
            available = left if available is None else min(available, left)
    except (OSError, ValueError):
        pass
    return available


def format_bytes(n):
    if n >= 1024**6:  # beyond petabytes: what a mistyped setting asks for
        return f"{float(n):.1e} bytes"
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024


def check_fits(nbytes, what, advice="", error=ConfigError):
    """Raise ``error`` (a ConfigError: a setting asks for it) ``WHAT: N of memory needed, M
    available[ADVICE]`` if ``nbytes`` exceed the memory available; nothing if they fit (or nothing says
    how much is available)."""
    available = available_bytes()
    if available is not None and nbytes > available:
        raise error(f"{what}: {format_bytes(nbytes)} of memory needed, {format_bytes(max(available, 0))} "
                          f"available{advice}")


def array_bytes(shape, dtype):
    """Bytes of a numpy array of ``shape`` and ``dtype`` (exact Python integers: no overflow)."""
    import numpy as np

    count = 1
    for size in shape:
        count *= int(size)
    return count * np.dtype(dtype).itemsize


def mlp_parameters(sizes):
    """Weights and biases of a dense network whose layers have ``sizes`` (input first, output last)."""
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def check_networks(parameters, copies, what, advice):
    """``parameters`` float32 weights held ``copies`` times (networks, optimizer slots, numpy copies)."""
    check_fits(4 * copies * parameters, f"{what} ({parameters:,} weights)", advice)
