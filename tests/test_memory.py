"""The allocation checks: a buffer, a sample or a network sized by a user's settings is refused in one
line when it cannot fit in the memory available, before anything is allocated (never a huge real
allocation here: the memory available is faked, and numpy's allocators are made to fail if reached)."""

import numpy as np
import pytest
from gymnasium import spaces

from advdl.api import memory
from advdl.api.errors import ConfigError

GB = 2**30


@pytest.fixture
def available(monkeypatch):
    """Set the memory the checks see: ``available(n)``."""
    def set_to(n):
        monkeypatch.setattr(memory, "available_bytes", lambda: n)
    return set_to


@pytest.fixture
def no_allocation(monkeypatch):
    """numpy's array makers fail the test if a check lets an allocation through."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"allocated {args[:1]} before the memory check refused it")
    for module in ("advdl.rl.replay", "advdl.rl.rollout"):
        monkeypatch.setattr(f"{module}.np.zeros", refuse)
        monkeypatch.setattr(f"{module}.np.zeros_like", refuse)


def test_available_bytes_reads_memavailable(monkeypatch, tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       32000000 kB\nMemFree:  100 kB\nMemAvailable:   2048 kB\n")
    real_open = open
    monkeypatch.setattr(memory, "open", lambda path, *a, **k: real_open(meminfo if path == "/proc/meminfo" else path,
                                                                       *a, **k), raising=False)
    monkeypatch.setattr(memory.Path, "read_text", lambda self: (_ for _ in ()).throw(OSError("no cgroup")))
    assert memory.available_bytes() == 2048 * 1024


def test_available_bytes_falls_back_to_sysconf(monkeypatch):
    def no_meminfo(*args, **kwargs):
        raise OSError("no /proc")
    monkeypatch.setattr(memory, "open", no_meminfo, raising=False)
    monkeypatch.setattr(memory.Path, "read_text", lambda self: (_ for _ in ()).throw(OSError("no cgroup")))
    monkeypatch.setattr(memory.os, "sysconf", lambda name: {"SC_AVPHYS_PAGES": 1000, "SC_PAGE_SIZE": 4096}[name])
    assert memory.available_bytes() == 4096 * 1000


def test_a_cgroup_limit_lowers_what_is_available(monkeypatch):
    files = {"/sys/fs/cgroup/memory.max": "1073741824\n", "/sys/fs/cgroup/memory.current": "536870912\n"}
    monkeypatch.setattr(memory.Path, "read_text", lambda self: files[str(self)])
    assert memory.available_bytes() <= 512 * 2**20


def test_nothing_known_about_the_memory_refuses_nothing(available):
    available(None)
    memory.check_fits(10**30, "anything")


def test_array_bytes_are_exact_for_any_size():
    assert memory.array_bytes((10**20, 4), np.float32) == 16 * 10**20  # numpy's int64 products would overflow
    assert memory.array_bytes((), np.int64) == 8


def test_format_bytes():
    assert [memory.format_bytes(n) for n in (12, 2048, 5 * GB, 2**70)] == ["12 bytes", "2.0 KB", "5.0 GB",
                                                                          "1.2e+21 bytes"]


def test_a_replay_buffer_too_big_is_refused_before_numpy_allocates(available, no_allocation):
    from advdl.rl.replay import ReplayBuffer

    available(8 * GB)
    with pytest.raises(ConfigError, match=r"replay buffer of buffer_size 1,000,000,000,000 transitions \(48 bytes each\): "
                                          r"87\.3 TB of memory needed, 8\.0 GB available; lower buffer_size"):
        ReplayBuffer(10**12, (4,), np.float32)


def test_a_replay_sample_too_big_is_refused(available):
    """The Trainer checks a training round's sample once, before the run starts (the CLI tests show it)."""
    from advdl.rl.replay import check_sample, transition_bytes

    available(8 * GB)
    per = transition_bytes((4,), np.float32)
    with pytest.raises(ConfigError, match=r"gradient_steps x batch_size = 1,000,000,000,000,000 x 64 .* of memory needed"):
        check_sample(10**15, 64, per)
    check_sample(2, 3, per)  # a sample that fits


def test_a_rollout_too_big_is_refused_before_numpy_allocates(available, no_allocation):
    from advdl.rl.rollout import RolloutBuffer

    available(8 * GB)
    with pytest.raises(ConfigError, match=r"rollout of n_steps x n_envs = 1,000,000,000 x 8 steps: .* lower n_steps or n_envs"):
        RolloutBuffer(10**9, 8, (4,), np.float32, (), np.int64)


def test_agents_check_their_networks_before_tensorflow_starts(available):
    """The networks: the agents' own (the replay buffer and the rollout: the core's buffers, above)."""
    from advdl_plugins.dqn import DQNConfig
    from advdl_plugins.dqn.agent import DQNAgent
    from advdl_plugins.policy_gradient import A2CConfig
    from advdl_plugins.policy_gradient.a2c import A2CAgent

    available(8 * GB)
    box, two = spaces.Box(-1, 1, (4,), np.float32), spaces.Discrete(2)
    DQNAgent.check_memory(DQNConfig(), box, two)  # the defaults fit
    with pytest.raises(ConfigError, match=r"Q-networks of hidden_sizes \[100000, 100000\] \(10,000,800,002 weights\)"):
        DQNAgent.check_memory(DQNConfig(hidden_sizes=(100_000, 100_000)), box, two)
    A2CAgent.check_memory(A2CConfig(), box, two)
    with pytest.raises(ConfigError, match="an actor and a critic of hidden_sizes"):
        A2CAgent.check_memory(A2CConfig(hidden_sizes=(100_000, 100_000)), box, two)


def test_mlp_parameters():
    assert memory.mlp_parameters([4, 256, 256, 2]) == 4 * 256 + 256 + 256 * 256 + 256 + 256 * 2 + 2


def test_sample_counts(available):
    from types import SimpleNamespace

    from advdl.datasets.images import MAX_GRID_IMAGES, check_sample_count

    available(8 * GB)
    digits = SimpleNamespace(image_shape=(28, 28, 1))
    check_sample_count(MAX_GRID_IMAGES, digits, "x.png")
    with pytest.raises(ConfigError, match=r"a \.png grid holds at most 10,000 images; write a \.npz"):
        check_sample_count(MAX_GRID_IMAGES + 1, digits, "x.png")
    check_sample_count(100_000, digits, "x.npz")
    with pytest.raises(ConfigError, match=r"--n 10,000,000 images: .* of memory needed, 8\.0 GB available"):
        check_sample_count(10**7, digits, "x.npz")
    with pytest.raises(ConfigError, match="--n must be at least 1"):
        check_sample_count(0, digits)
