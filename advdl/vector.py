"""The environments a Trainer steps side by side (``--vec``).

- ``sync``: in this process, one after another (the cheapest for environments fast to step).
- ``async``: each in its own subprocess, stepping at the same time (Gymnasium's AsyncVectorEnv),
  for environments slow to step.

Both reset a finished episode's environment in the same step, unseeded (its own RNG continues),
and hand back the observation it ended in; so both give the same numbers for the same seed, and
both snapshot their environments (pickled, RNG included) for exact resume.
"""

import pickle
import signal
import sys
from functools import partial

import numpy as np

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
        """The environments pickled, or None when they cannot be (they resume at fresh episodes)."""
        try:
            return pickle.dumps(self.envs)
        except Exception:
            return None

    def restore(self, snapshot):
        self.close()
        self.envs = pickle.loads(snapshot)

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
        return None if any(p is None for p in parts) else pickle.dumps(list(parts))

    def restore(self, snapshot):
        self.close()
        self._start([partial(_restored, blob) for blob in pickle.loads(snapshot)])

    def close(self):
        self.vec.close()


def _restored(blob):
    return _snapshottable(partial(pickle.loads, blob))


def make_envs(kind, make_env, n):
    return {"sync": SyncEnvs, "async": AsyncEnvs}[kind](make_env, n)
