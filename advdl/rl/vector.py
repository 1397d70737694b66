"""The environments a Trainer steps side by side (``--vec``).

- ``sync``: in this process, one after another (the cheapest for environments fast to step).
- ``async``: each in its own subprocess, stepping at the same time (Gymnasium's AsyncVectorEnv),
  for environments slow to step.

Both reset a finished episode's environment in the same step, unseeded (its own RNG continues),
and hand back the observation it ended in; so both give the same numbers for the same seed. Both
snapshot their environments for exact resume as plain data (``envstate``: each layer's
attributes, RNG included), restored onto freshly made environments. An environment that is not
plain data is None in the snapshot: a resumed run restarts the episodes in progress (a line on
stderr says so). Pickle only with ADVDL_TRUST_CHECKPOINTS=1: saving, such an environment is
pickled; loading, a pickled one is unpickled. Without it nothing is unpickled.
"""

import os
import pickle
import signal
import sys
from functools import partial

import numpy as np

from advdl.api.errors import CheckpointError
from advdl.rl import envstate

VEC_KINDS = ("sync", "async")
PICKLED = ("the checkpoint's environment snapshot is in the pickle format (an older advdl's, or planted) and was "
           "not loaded (ADVDL_TRUST_CHECKPOINTS=1 loads it if you trust this run folder): the episodes in progress "
           "restart")
NOT_SAVED = ("the checkpoint holds no exact state of the environments (they were not plain data when it was "
             "saved): the episodes in progress restart")


def trusted():
    return os.environ.get("ADVDL_TRUST_CHECKPOINTS") == "1"


def snapshot_env(env):
    """(the environment's entry in a snapshot: plain data, pickle bytes or None; why it is None)."""
    try:
        return envstate.get_state(env), None
    except envstate.NotPlainData as exc:
        if trusted():
            try:
                return pickle.dumps(env), None
            except Exception:
                pass
        return None, str(exc)


def restored_env(make_env, entry):
    """A fresh environment carrying a snapshot's entry (bytes only once the trust switch was checked)."""
    if isinstance(entry, bytes):
        return pickle.loads(entry)
    env = make_env()
    try:
        envstate.set_state(env, entry)
    except BaseException:
        env.close()
        raise
    return env


class _Snapshots:
    """What both kinds share: the checks of a snapshot and the lines on stderr, each once a run."""

    _told = frozenset()

    def _tell(self, message):
        if message not in self._told:
            self._told = self._told | {message}
            print(f"advdl: {message}", file=sys.stderr, flush=True)

    def _snapshot(self, parts):
        for _, reason in parts:
            if reason:
                self._tell(f"{reason}, not plain data: a resume from its checkpoints restarts the episode in "
                           f"progress (get_state()/set_state() methods on that class give an exact resume)")
        return [entry for entry, _ in parts]

    def _restorable(self, snapshot, n):
        """True to restore the snapshot; False (told why) to restart the episodes in progress."""
        if type(snapshot) is not list or len(snapshot) != n \
                or not all(entry is None or type(entry) in (dict, bytes) for entry in snapshot):
            raise CheckpointError(f"the checkpoint's environment snapshot does not fit this run ({n} environments)")
        if any(entry is None for entry in snapshot):
            self._tell(NOT_SAVED)
            return False
        if any(type(entry) is bytes for entry in snapshot) and not trusted():
            self._tell(PICKLED)
            return False
        return True


class SyncEnvs(_Snapshots):
    def __init__(self, make_env, n):
        self.make_env = make_env
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
        """Each environment's state (None for one that is not plain data: it resumes at a fresh episode)."""
        return self._snapshot([snapshot_env(env) for env in self.envs])

    def restore(self, snapshot):
        """Fresh environments carrying the snapshot; False (and nothing changed) to restart the episodes."""
        if not self._restorable(snapshot, len(self.envs)):
            return False
        envs = []
        try:
            for entry in snapshot:
                envs.append(restored_env(self.make_env, entry))
        except BaseException:
            for env in envs:
                env.close()
            raise
        self.close()
        self.envs = envs
        return True

    def close(self):
        for env in self.envs:
            env.close()


def _snapshottable(make_env, entry=None):
    """In the subprocess: the environment (carrying a snapshot's entry) behind a wrapper that
    snapshots it. Ctrl-C reaches the whole process group: only the main process handles it
    (checkpoint, stop)."""
    import gymnasium as gym

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    class Snapshottable(gym.Wrapper):
        def advdl_snapshot(self):
            return snapshot_env(self.env)

    return Snapshottable(make_env() if entry is None else restored_env(make_env, entry))


class AsyncEnvs(_Snapshots):
    def __init__(self, make_env, n):
        self.n, self.make_env = n, make_env
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
        return self._snapshot(list(self.vec.call("advdl_snapshot")))

    def restore(self, snapshot):
        if not self._restorable(snapshot, self.n):
            return False
        for entry in snapshot:  # a state that does not fit fails here, as one line, not in a subprocess
            if type(entry) is dict:
                restored_env(self.make_env, entry).close()
        self.close()
        self._start([partial(_snapshottable, self.make_env, entry) for entry in snapshot])
        return True

    def close(self):
        self.vec.close()


def make_envs(kind, make_env, n):
    return {"sync": SyncEnvs, "async": AsyncEnvs}[kind](make_env, n)
