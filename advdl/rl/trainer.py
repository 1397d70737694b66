"""The training loop for RL agents: one loop, owned by the core.

The Trainer steps the environments (one, or ``n_envs`` side by side for rollouts), feeds the
agent the data it declared, evaluates, logs and checkpoints. Everything that changes while
training (agent, replay buffer or rollout, RNG, environments, counters, metric accumulators) goes
into the checkpoint, so a resumed run continues exactly where the interrupted one stopped.
"""

import math
import time
from collections import deque
from pathlib import Path

import numpy as np

from advdl.api.errors import PluginError
from advdl.api.interfaces import Transition
from advdl.rl.evaluation import PERIODIC, evaluate, stats
from advdl.rl.replay import ReplayBuffer, check_sample
from advdl.rl.rollout import EpisodeBuffer, RolloutBuffer
from advdl.rl.vector import make_envs
from advdl.runs import checkpoint
from advdl.runs import statecheck as sc
from advdl.runs.logs import EPISODE_COLUMNS, CsvLog, Progress, TensorBoardWriter, counted_rows, recover_logs

DATA_KINDS = ("replay", "transitions", "rollouts", "episodes")
RECENT = 100  # episodes in the "recent return" mean (and the book's solved criterion)


class Interrupted(Exception):
    """Training stopped on request; a checkpoint was written."""

    def __init__(self, env_steps, path):
        super().__init__(f"stopped at step {env_steps}")
        self.env_steps, self.path = env_steps, path


class Diverged(Exception):
    """A training metric became NaN or infinite (with ``on_nan=stop``); no checkpoint was written after it."""

    def __init__(self, step, metric, value):
        super().__init__(f"{metric} became {value} at step {step}")
        self.step, self.metric, self.value = step, metric, value


def check_finite(metrics, step, on_nan):
    """Raise Diverged for the first NaN or infinite metric, unless ``on_nan`` is "continue"."""
    if on_nan == "stop":
        for name, value in metrics.items():
            if not math.isfinite(float(value)):  # math, not numpy: this runs on every train step
                raise Diverged(step, name, float(value))


EVALUATION = sc.record({"env_steps": sc.count, "wall_seconds": sc.seconds, "mean": sc.number, "std": sc.number})
STATE_SCHEMA = {  # what load_checkpoint reads (the agent's, buffers' and envs' own parts check themselves)
    "env_steps": sc.count, "episodes": sc.count, "terminated_episodes": sc.count, "wall_seconds": sc.seconds,
    "agent": sc.anything, "replay": sc.optional(sc.mapping), "rollout": sc.optional(sc.mapping),
    "episode": sc.optional(sc.mapping), "rng": sc.mapping, "env": sc.anything, "obs": sc.optional(sc.array()),
    "episode_return": sc.array(1), "episode_length": sc.array(1),
    "recent_returns": sc.list_of(sc.number), "recent_lengths": sc.list_of(sc.count),
    "metric_sums": sc.dict_of(sc.number), "metric_count": sc.count, "evaluations": sc.list_of(EVALUATION),
    "solved_episode": sc.optional(sc.count),
    "best": sc.optional(sc.record({"env_steps": sc.count, "mean": sc.number, "agent": sc.anything})),
    "eval_seconds": sc.seconds,
}
LOGS = (("metrics.csv", "env_steps"), ("episodes.csv", "env_steps"), ("evaluations.csv", "env_steps"))


def check_state(state, path):
    """The checks of a loaded RL checkpoint (``checkpoint.load_latest``'s ``check``)."""
    sc.check(state, STATE_SCHEMA, path)


class Trainer:
    def __init__(self, agent, make_env, run_config, run_dir, callbacks=(), progress=True):
        self.agent = agent
        self.make_env = make_env
        self.config = run_config
        self.run_dir = Path(run_dir)
        self.callbacks = list(callbacks)
        self.show_progress = progress
        if agent.data not in DATA_KINDS:
            raise PluginError(f"{type(agent).__name__}.data is {agent.data!r}; the Trainer feeds one of "
                              f"{', '.join(DATA_KINDS)}")
        self.n_envs = agent.rollout_schedule().n_envs if agent.data == "rollouts" else 1
        self.envs = make_envs(run_config.vec, make_env, self.n_envs)
        self.threshold = getattr(self.envs.spec, "reward_threshold", None)
        self.rng = np.random.default_rng(run_config.seed)
        obs_space, action_space = self.envs.observation_space, self.envs.action_space
        self.replay = self.rollout = None
        self.episode_buffer = EpisodeBuffer() if agent.data == "episodes" else None
        if agent.data == "replay":
            schedule = agent.replay_schedule()
            self.replay = ReplayBuffer(schedule.buffer_size, obs_space.shape, obs_space.dtype,
                                       action_space.shape, action_space.dtype)
            check_sample(schedule.gradient_steps, schedule.batch_size, self.replay.per_transition)
        elif agent.data == "rollouts":
            self.rollout = RolloutBuffer(agent.rollout_schedule().n_steps, self.n_envs, obs_space.shape,
                                         obs_space.dtype, action_space.shape, action_space.dtype)
        self.env_steps = 0
        self.episodes = 0
        self.terminated_episodes = 0  # ended by the environment (e.g. a goal reached), not by a time limit
        self.wall_before = 0.0
        self.recent_returns = deque(maxlen=RECENT)
        self.recent_lengths = deque(maxlen=RECENT)
        self.metric_sums = {}
        self.metric_count = 0
        self.evaluations = []
        self.solved_episode = None
        self.best = None  # with keep_best: the agent state of the best periodic evaluation
        self.eval_seconds = 0.0
        self.obs = None  # (n_envs, ...) current observations
        self.episode_return = np.zeros(self.n_envs)
        self.episode_length = np.zeros(self.n_envs, dtype=np.int64)
        self._stop = False
        self._logs_open = False
        self.log_rows = {}  # CSV log -> data rows it held at the checkpoint this run resumed from

    # -- control ---------------------------------------------------------------------------
    def request_stop(self):
        """Stop after the current step and write a checkpoint (what Ctrl-C and SIGTERM do)."""
        self._stop = True

    # -- the loop ------------------------------------------------------------------------------
    def train(self):
        cfg, agent, n = self.config, self.agent, self.n_envs
        schedule = agent.replay_schedule() if self.replay is not None else None
        online = agent.data == "transitions"
        self._open_logs()
        start = time.perf_counter()
        self._segment_start, self._last_log_time, self._last_log_steps = start, start, self.env_steps
        if self.obs is None:
            self.obs = self.envs.reset(cfg.seed)
        self._call("on_start", self)
        progress = Progress(cfg.steps, self.env_steps, self.show_progress)
        try:
            while self.env_steps < cfg.steps:
                if self._stop:
                    raise Interrupted(self.env_steps, self.save_checkpoint())
                obs = self.obs
                actions = agent.act(obs, explore=True)
                self.obs, rewards, all_terminated, all_truncated, final_obs = self.envs.step(agent.env_action(actions))
                episode_ended = False
                for i in range(n):
                    reward, terminated, truncated = float(rewards[i]), bool(all_terminated[i]), bool(all_truncated[i])
                    next_obs = final_obs.get(i, self.obs[i])  # the observation this step ended in
                    self.episode_return[i] += reward
                    self.episode_length[i] += 1
                    if online:
                        self._add_metrics(agent.train_step(Transition(obs[i], actions[i], reward, next_obs, terminated)),
                                          self.env_steps + i + 1)
                    elif schedule:
                        self.replay.add(obs[i], actions[i], reward, next_obs, terminated)
                    elif self.rollout is not None:
                        self.rollout.add(i, obs[i], actions[i], reward, next_obs, terminated, truncated)
                    else:
                        self.episode_buffer.add(obs[i], actions[i], reward)
                        if terminated or truncated:
                            self._add_metrics(agent.train_step(self.episode_buffer.take(terminated, next_obs)),
                                              self.env_steps + i + 1)
                    if terminated or truncated:
                        self._end_episode(i, terminated)
                        episode_ended = True
                previous, self.env_steps = self.env_steps, self.env_steps + n
                steps = self.env_steps
                agent.on_step(steps, self.episodes)
                if schedule and self._train_due(schedule, episode_ended, previous):
                    batch = self.replay.sample(self.rng, schedule.gradient_steps, schedule.batch_size)
                    self._add_metrics(agent.train_step(batch))
                elif self.rollout is not None and self.rollout.advance():
                    self._add_metrics(agent.train_step(self.rollout.take()))
                stop = episode_ended and ((cfg.stop_when_solved and self.solved_episode is not None)
                                          or 0 < cfg.episodes <= self.episodes)
                if cfg.eval_interval and _crossed(previous, steps, cfg.eval_interval):
                    stop = self._evaluate(progress) or stop
                if _crossed(previous, steps, cfg.log_interval) or steps >= cfg.steps or stop:
                    stop = self._log(progress) or stop
                if cfg.checkpoint_interval and _crossed(previous, steps, cfg.checkpoint_interval):
                    self.save_checkpoint()
                if stop:
                    break
        finally:
            progress.close()
            self._close_logs()
        self.save_checkpoint()
        self._call("on_end", self)
        return self.wall_seconds()

    def _train_due(self, schedule, episode_ended, previous_steps):
        if schedule.per_episode:
            due = episode_ended and self.episodes % schedule.train_freq == 0
        else:
            due = _crossed(previous_steps, self.env_steps, schedule.train_freq)
        return due and self.replay.size >= max(schedule.learning_starts, schedule.batch_size)

    def wall_seconds(self):
        return self.wall_before + time.perf_counter() - self._segment_start

    def _end_episode(self, i, terminated):
        episode_return, episode_length = float(self.episode_return[i]), int(self.episode_length[i])
        self.episodes += 1
        self.terminated_episodes += bool(terminated)
        self.recent_returns.append(episode_return)
        self.recent_lengths.append(episode_length)
        self.episode_log.write({"episode": self.episodes, "env_steps": self.env_steps + i + 1,
                                "return": episode_return, "length": episode_length, "terminated": int(terminated)})
        if (self.solved_episode is None and self.threshold is not None
                and len(self.recent_returns) == RECENT
                and np.mean(self.recent_returns) >= self.threshold):
            self.solved_episode = self.episodes
        self._call("on_episode_end", self, episode_return, episode_length)
        self.episode_return[i], self.episode_length[i] = 0.0, 0

    def _add_metrics(self, metrics, step=None):
        """Accumulate a train step's metrics; ``step``: the env step it learned from (default: the last)."""
        if not metrics:
            return
        check_finite(metrics, self.env_steps if step is None else step, self.config.on_nan)
        for key, value in metrics.items():
            self.metric_sums[key] = self.metric_sums.get(key, 0.0) + float(value)
        self.metric_count += 1

    def _evaluate(self, progress):
        started = time.perf_counter()
        result = stats(evaluate(self.agent, self.make_env, self.config.eval_episodes, self.config.seed, PERIODIC))
        self.eval_seconds += time.perf_counter() - started
        record = {"env_steps": self.env_steps, "wall_seconds": round(self.wall_seconds(), 3), **result}
        self.evaluations.append(record)
        if self.config.keep_best and (self.best is None or result["mean"] >= self.best["mean"]):
            self.best = {"env_steps": self.env_steps, "mean": result["mean"], "agent": self.agent.get_state()}
        self.eval_log.write(record)
        self.tensorboard.scalars({"eval/mean": result["mean"], "eval/std": result["std"]}, self.env_steps)
        progress.write(f"step {self.env_steps}: evaluation mean {result['mean']:.2f} +/- {result['std']:.2f}")
        return bool(self._call("on_evaluation", self, record))

    def _log(self, progress):
        now = time.perf_counter()
        sps = (self.env_steps - self._last_log_steps) / max(now - self._last_log_time, 1e-9)
        self._last_log_time, self._last_log_steps = now, self.env_steps
        row = {"env_steps": self.env_steps, "episodes": self.episodes,
               "wall_seconds": round(self.wall_seconds(), 3), "steps_per_second": round(sps, 1),
               "return_mean": _mean(self.recent_returns), "length_mean": _mean(self.recent_lengths)}
        if self.metric_count:
            row.update({k: v / self.metric_count for k, v in self.metric_sums.items()})
        self.metric_sums, self.metric_count = {}, 0
        self.metrics_log.write(row)
        self.metrics_log.flush()
        self.episode_log.flush()
        self.tensorboard.scalars({f"train/{k}": v for k, v in row.items()
                                  if k not in ("env_steps", "wall_seconds")}, self.env_steps)
        progress.update_to(self.env_steps, ret=_short(row["return_mean"]), sps=f"{sps:.0f}")
        return bool(self._call("on_log", self, row))

    def _call(self, method, *args):
        stop = False
        for callback in self.callbacks:
            fn = getattr(callback, method, None)
            if fn is not None:
                stop = bool(fn(*args)) or stop
        return stop

    # -- files ---------------------------------------------------------------------------------
    def _open_logs(self):
        d = self.run_dir
        # rows written after the last checkpoint (a hard kill) would be repeated on resume
        rows = recover_logs(d, LOGS, self.env_steps, self.log_rows, f"step {self.env_steps}")
        columns = ("env_steps", "episodes", "wall_seconds", "steps_per_second", "return_mean",
                   "length_mean", *self.agent.metric_names)
        self.metrics_log = CsvLog(d / "metrics.csv", columns, rows["metrics.csv"])
        self.episode_log = CsvLog(d / "episodes.csv", EPISODE_COLUMNS, rows["episodes.csv"])
        self.eval_log = CsvLog(d / "evaluations.csv", ("env_steps", "wall_seconds", "mean", "std", "episodes"),
                               rows["evaluations.csv"])
        self.tensorboard = TensorBoardWriter(d / "tensorboard")
        self._logs_open = True

    def _row_counts(self):
        """The rows of each CSV log (what a checkpoint records, to tell a log cut short later)."""
        if not self._logs_open:
            return self.log_rows
        return {"metrics.csv": self.metrics_log.rows, "episodes.csv": self.episode_log.rows,
                "evaluations.csv": self.eval_log.rows}

    def _close_logs(self):
        self.log_rows = self._row_counts()
        self._logs_open = False
        for log in (self.metrics_log, self.episode_log, self.eval_log, self.tensorboard):
            log.close()

    # -- checkpoints ---------------------------------------------------------------------------
    def close_envs(self):
        self.envs.close()

    def save_checkpoint(self):
        env_state = self.envs.snapshot()  # None: envs whose state is not plain data resume at fresh episodes
        state = {
            "env_steps": self.env_steps, "episodes": self.episodes,
            "terminated_episodes": self.terminated_episodes, "wall_seconds": self.wall_seconds(),
            "agent": self.agent.get_state(),
            "replay": self.replay.state() if self.replay is not None else None,
            "rollout": self.rollout.state() if self.rollout is not None else None,
            "episode": self.episode_buffer.state() if self.episode_buffer is not None else None,
            "rng": self.rng.bit_generator.state,
            "env": env_state, "obs": self.obs,
            "episode_return": self.episode_return.copy(), "episode_length": self.episode_length.copy(),
            "recent_returns": list(self.recent_returns), "recent_lengths": list(self.recent_lengths),
            "metric_sums": dict(self.metric_sums), "metric_count": self.metric_count,
            "evaluations": list(self.evaluations), "solved_episode": self.solved_episode,
            "best": self.best, "eval_seconds": self.eval_seconds,
            "log_rows": self._row_counts(),
        }
        if self._logs_open:
            for log in (self.metrics_log, self.episode_log, self.eval_log, self.tensorboard):
                log.sync()  # the rows up to the checkpoint are on disk before it is
        return checkpoint.save(self.run_dir / "checkpoints", self.env_steps, state)

    def load_checkpoint(self, state):
        if any(len(state[k]) != self.n_envs for k in ("episode_return", "episode_length")):
            raise ValueError(f"its episode counters are for {len(state['episode_return'])} environments, "
                             f"this run steps {self.n_envs}")
        self.env_steps, self.episodes = state["env_steps"], state["episodes"]
        self.terminated_episodes = state["terminated_episodes"]
        self.wall_before = state["wall_seconds"]
        self.agent.set_state(state["agent"])
        if self.replay is not None:
            self.replay.load_state(state["replay"])
        if self.rollout is not None:
            self.rollout.load_state(state["rollout"])
        restored = state["env"] is not None and self.envs.restore(state["env"])  # else: fresh episodes
        if self.episode_buffer is not None and restored:
            self.episode_buffer.load_state(state["episode"])
        self.rng.bit_generator.state = state["rng"]
        if restored:
            self.obs = state["obs"]
            self.episode_return, self.episode_length = state["episode_return"], state["episode_length"]
        self.recent_returns.extend(state["recent_returns"])
        self.recent_lengths.extend(state["recent_lengths"])
        self.metric_sums, self.metric_count = state["metric_sums"], state["metric_count"]
        self.evaluations = state["evaluations"]
        self.solved_episode = state["solved_episode"]
        self.best, self.eval_seconds = state["best"], state["eval_seconds"]
        self.log_rows = counted_rows(state)

    def restore_best(self):
        """With keep_best: load the agent state of the best periodic evaluation (ties: the latest)."""
        if self.best is not None:
            self.agent.set_state(self.best["agent"])
            return {"env_steps": self.best["env_steps"], "eval_mean": self.best["mean"]}
        return None


def _crossed(previous, now, interval):
    """True when a multiple of ``interval`` lies in (previous, now]: steps advance by n_envs."""
    return previous // interval != now // interval


def _mean(values):
    return float(np.mean(values)) if values else None


def _short(value):
    return None if value is None else f"{value:.1f}"
