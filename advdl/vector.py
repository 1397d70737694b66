"""The environments a Trainer steps side by side (``--vec``).

- ``sync``: in this process, one after another (the cheapest for environments fast to step).
- ``async``: each in its own subprocess, stepping at the same time (Gymnasium's AsyncVectorEnv),
  for environments slow to step.

Both reset a finished episode's environment in the same step, unseeded (its own RNG continues),
and hand back the observation it ended in; so both give the same numbers for the same seed, and
both snapshot their environments (pickled, RNG included) for exact resume: a list of byte
strings, one per environment, restored by ``safe_pickle`` (which refuses anything that could run
code) unless ADVDL_TRUST_CHECKPOINTS=1.
"""

import os
import pickle
import signal
import sys
from functools import partial

import numpy as np

from . import safe_pickle
from .errors import CheckpointError


def load_envs(snapshot, packages):
    """The environments of a snapshot (a list of pickles), each restored without running code."""
    if os.environ.get("ADVDL_TRUST_CHECKPOINTS") == "1":
        return [pickle.loads(blob) for blob in snapshot]
    try:
        return [safe_pickle.loads(blob, packages) for blob in snapshot]
    except safe_pickle.UnsafePickleError as exc:
        raise CheckpointError(f"the checkpoint's environment snapshot was not loaded: {exc} (it could run code); "
                              f"if you trust this run folder, resume with ADVDL_TRUST_CHECKPOINTS=1") from None
    except Exception as exc:
        raise CheckpointError(f"the checkpoint's environment snapshot is unreadable ({type(exc).__name__})") from None

VEC_KINDS = ("sync", "async")


class SyncEnvs:
    def __init__(self, make_env, n):
        self.envs = [make_env() for _ in range(n)]
        first = self.envs[0]
        self.observation_space, self.action_space, self.spec = first.observation_space, first.action_space, first.spec

    def reset(self, seed):
        return np.stack([np.asarray(env.reset(seed=seed + i)[0]) for i, env in enumerate(self.envs)])

    def step(self, actions):
        """(observations after any reset, rewards, terminated, truncated, {index: final observation})."""
        n = len(self.envs)
        obs, rewards = [None] * n, np.zeros(n)
        terminated, truncated, final = np.zeros(n, bool), np.zeros(n, bool), {}
        for i, env in enumerate(self.envs):
            obs[i], rewards[i], terminated[i], truncated[i], _ = env.step(actions[i])
            if terminated[i] or truncated[i]:
                final[i] = obs[i]
                obs[i], _ = env.reset()
        return np.stack([np.asarray(o) for o in obs]), rewards, terminated, truncated, final

    def snapshot(self):
        """Each environment pickled, or None when they cannot be (they resume at fresh episodes)."""
        try:
            return [pickle.dumps(env) for env in self.envs]
        except Exception:
            return None

    def restore(self, snapshot, packages=()):
        envs = load_envs(snapshot, packages)
        self.close()
        self.envs = envs

    def close(self):
        for env in self.envs:
            env.close()


def _snapshottable(make_env):
    """In the subprocess: the environment behind a wrapper that can pickle it (for exact resume).
    Ctrl-C reaches the whole process group: only the main process handles it (checkpoint, stop)."""
    import gymnasium as gym

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    class Snapshottable(gym.Wrapper):
        def advdl_snapshot(self):
            try:
                return pickle.dumps(self.env)
            except Exception:
                return None

    return Snapshottable(make_env())


class AsyncEnvs:
    def __init__(self, make_env, n):
        self.n = n
        probe = make_env()
        self.observation_space, self.action_space, self.spec = probe.observation_space, probe.action_space, probe.spec
        probe.close()
        self._start([partial(_snapshottable, make_env)] * n)

    def _start(self, env_fns):
        from gymnasium.vector import AsyncVectorEnv, AutoresetMode

        # fork: the subprocesses inherit the plugins' registrations (environment ids) as they are
        context = "fork" if sys.platform.startswith("linux") else None
        self.vec = AsyncVectorEnv(env_fns, context=context, autoreset_mode=AutoresetMode.SAME_STEP)

    def reset(self, seed):
        return self.vec.reset(seed=seed)[0]

    def step(self, actions):
        obs, rewards, terminated, truncated, infos = self.vec.step(np.asarray(actions))
        done = np.flatnonzero(infos.get("_final_obs", np.zeros(self.n, bool)))
        return obs, rewards, terminated, truncated, {int(i): infos["final_obs"][i] for i in done}

    def snapshot(self):
        parts = self.vec.call("advdl_snapshot")
        return None if any(p is None for p in parts) else list(parts)

    def restore(self, snapshot, packages=()):
        envs = load_envs(snapshot, packages)  # checked here; each subprocess takes its environment as it is
        self.close()
        self._start([partial(_snapshottable, partial(_same, env)) for env in envs])

    def close(self):
        self.vec.close()


def _same(env):
    return env


def make_envs(kind, make_env, n):
    return {"sync": SyncEnvs, "async": AsyncEnvs}[kind](make_env, n)
