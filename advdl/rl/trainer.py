"""The training loop for RL agents: one loop, owned by the core.

The Trainer steps the environments (one, or ``n_envs`` side by side for rollouts), hands every
transition to the collector of the data kind the agent declared (``advdl.rl.collectors``), trains
the agent on what it returns, evaluates, logs and checkpoints. Everything that changes while
training (agent, collector buffer, RNG, environments, counters, metric accumulators) goes into the
checkpoint, so a resumed run continues exactly where the interrupted one stopped.
"""

import time
from collections import deque

import numpy as np

from advdl.api.errors import PluginError
from advdl.rl.collectors import COLLECTORS, crossed
from advdl.rl.evaluation import PERIODIC, evaluate, stats
from advdl.rl.vector import make_envs
from advdl.runs import statecheck as sc
from advdl.runs.logs import EPISODE_COLUMNS, Progress
from advdl.runs.loop import Diverged, Interrupted, Loop, check_finite

__all__ = ["Trainer", "Interrupted", "Diverged", "check_finite", "check_state"]  # the last three: re-exported
RECENT = 100  # episodes in the "recent return" mean (and the book's solved criterion)


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


def check_state(state, path):
    """The checks of a loaded RL checkpoint (``checkpoint.load_latest``'s ``check``)."""
    sc.check(state, STATE_SCHEMA, path)


class Trainer(Loop):
    KEY = "env_steps"

    def __init__(self, agent, make_env, run_config, run_dir, callbacks=(), progress=True):
        super().__init__(agent, run_config, run_dir, callbacks)
        self.agent = agent
        self.make_env = make_env
        self.show_progress = progress
        collector = COLLECTORS.get(agent.data) if isinstance(agent.data, str) else None
        if collector is None:
            raise PluginError(f"{type(agent).__name__}.data is {agent.data!r}; the Trainer feeds one of "
                              f"{', '.join(COLLECTORS)}")
        self.n_envs = collector.n_envs(agent)
        self.envs = make_envs(run_config.vec, make_env, self.n_envs)
        self.threshold = getattr(self.envs.spec, "reward_threshold", None)
        self.rng = np.random.default_rng(run_config.seed)
        self.collector = collector(agent, self.envs.observation_space, self.envs.action_space, self.n_envs)
        self.env_steps = 0
        self.episodes = 0
        self.terminated_episodes = 0  # ended by the environment (e.g. a goal reached), not by a time limit
        self.recent_returns = deque(maxlen=RECENT)
        self.recent_lengths = deque(maxlen=RECENT)
        self.evaluations = []
        self.solved_episode = None
        self.best = None  # with keep_best: the agent state of the best periodic evaluation
        self.eval_seconds = 0.0
        self.obs = None  # (n_envs, ...) current observations
        self.episode_return = np.zeros(self.n_envs)
        self.episode_length = np.zeros(self.n_envs, dtype=np.int64)

    @property
    def step(self):
        """Env steps so far (the name both loops share)."""
        return self.env_steps

    # -- the loop ------------------------------------------------------------------------------
    def train(self):
        cfg, agent, n = self.config, self.agent, self.n_envs
        self._open_logs()
        start = self._start_clock()
        self._last_log_time, self._last_log_steps = start, self.env_steps
        if self.obs is None:
            self.obs = self.envs.reset(cfg.seed)
        self._call("on_start")
        progress = Progress(cfg.steps, self.env_steps, self.show_progress)
        try:
            while self.env_steps < cfg.steps:
                self._stop_if_requested()
                obs = self.obs
                actions = agent.act(obs, explore=True)
                self.obs, rewards, all_terminated, all_truncated, final_obs = self.envs.step(agent.env_action(actions))
                episode_ended = False
                for i in range(n):
                    reward, terminated, truncated = float(rewards[i]), bool(all_terminated[i]), bool(all_truncated[i])
                    next_obs = final_obs.get(i, self.obs[i])  # the observation this step ended in
                    self.episode_return[i] += reward
                    self.episode_length[i] += 1
                    batch = self.collector.add(i, obs[i], actions[i], reward, next_obs, terminated, truncated)
                    if batch is not None:
                        self._train(batch, self.env_steps + i + 1)
                    if terminated or truncated:
                        self._end_episode(i, terminated)
                        episode_ended = True
                previous, self.env_steps = self.env_steps, self.env_steps + n
                steps = self.env_steps
                agent.on_step(steps, self.episodes)
                batch = self.collector.after_step(previous, steps, self.episodes, episode_ended, self.rng)
                if batch is not None:
                    self._train(batch, steps)
                stop = episode_ended and ((cfg.stop_when_solved and self.solved_episode is not None)
                                          or 0 < cfg.episodes <= self.episodes)
                if cfg.eval_interval and crossed(previous, steps, cfg.eval_interval):
                    stop = self._evaluate(progress) or stop
                if crossed(previous, steps, cfg.log_interval) or steps >= cfg.steps or stop:
                    stop = self._log(progress) or stop
                if cfg.checkpoint_interval and crossed(previous, steps, cfg.checkpoint_interval):
                    self.save_checkpoint()
                if stop:
                    break
        finally:
            progress.close()
            self._close_logs()
        self.save_checkpoint()
        return self.wall_seconds()

    def _train(self, batch, step):
        """Train on ``batch`` and add its metrics (``step``: the env step it learned from)."""
        metrics = self.agent.train_step(batch)
        if metrics:
            self.add_metrics(metrics, step)

    def _end_episode(self, i, terminated):
        episode_return, episode_length = float(self.episode_return[i]), int(self.episode_length[i])
        self.episodes += 1
        self.terminated_episodes += bool(terminated)
        self.recent_returns.append(episode_return)
        self.recent_lengths.append(episode_length)
        self.logs["episodes.csv"].write({"episode": self.episodes, "env_steps": self.env_steps + i + 1,
                                         "return": episode_return, "length": episode_length,
                                         "terminated": int(terminated)})
        if (self.solved_episode is None and self.threshold is not None
                and len(self.recent_returns) == RECENT
                and np.mean(self.recent_returns) >= self.threshold):
            self.solved_episode = self.episodes
        self._call("on_episode_end", episode_return, episode_length)
        self.episode_return[i], self.episode_length[i] = 0.0, 0

    def _evaluate(self, progress):
        started = time.perf_counter()
        result = stats(evaluate(self.agent, self.make_env, self.config.eval_episodes, self.config.seed, PERIODIC))
        self.eval_seconds += time.perf_counter() - started
        record = {"env_steps": self.env_steps, "wall_seconds": round(self.wall_seconds(), 3), **result}
        self.evaluations.append(record)
        if self.config.keep_best and (self.best is None or result["mean"] >= self.best["mean"]):
            self.best = {"env_steps": self.env_steps, "mean": result["mean"], "agent": self.agent.get_state()}
        self.logs["evaluations.csv"].write(record)
        self.tensorboard.scalars({"eval/mean": result["mean"], "eval/std": result["std"]}, self.env_steps)
        progress.write(f"step {self.env_steps}: evaluation mean {result['mean']:.2f} +/- {result['std']:.2f}")
        return self._call("on_evaluation", record)

    def _log(self, progress):
        now = time.perf_counter()
        sps = (self.env_steps - self._last_log_steps) / max(now - self._last_log_time, 1e-9)
        self._last_log_time, self._last_log_steps = now, self.env_steps
        row = {"env_steps": self.env_steps, "episodes": self.episodes,
               "wall_seconds": round(self.wall_seconds(), 3), "steps_per_second": round(sps, 1),
               "return_mean": _mean(self.recent_returns), "length_mean": _mean(self.recent_lengths),
               **self._take_means()}
        self.logs["metrics.csv"].write(row)
        self.logs["metrics.csv"].flush()
        self.logs["episodes.csv"].flush()
        self.tensorboard.scalars({f"train/{k}": v for k, v in row.items()
                                  if k not in ("env_steps", "wall_seconds")}, self.env_steps)
        progress.update_to(self.env_steps, ret=_short(row["return_mean"]), sps=f"{sps:.0f}")
        return self._call("on_log", row)

    def log_columns(self):
        return {"metrics.csv": ("env_steps", "episodes", "wall_seconds", "steps_per_second", "return_mean",
                                "length_mean", *self.agent.metric_names),
                "episodes.csv": EPISODE_COLUMNS,
                "evaluations.csv": ("env_steps", "wall_seconds", "mean", "std", "episodes")}

    # -- checkpoints ---------------------------------------------------------------------------
    def close_envs(self):
        self.envs.close()

    def checkpoint_state(self):
        env_state = self.envs.snapshot()  # None: envs whose state is not plain data resume at fresh episodes
        buffers = dict.fromkeys(("replay", "rollout", "episode")) | self.collector.state()  # None: not this kind
        return {
            "env_steps": self.env_steps, "episodes": self.episodes,
            "terminated_episodes": self.terminated_episodes, "wall_seconds": self.wall_seconds(),
            "agent": self.agent.get_state(), **buffers,
            "rng": self.rng.bit_generator.state,
            "env": env_state, "obs": self.obs,
            "episode_return": self.episode_return.copy(), "episode_length": self.episode_length.copy(),
            "recent_returns": list(self.recent_returns), "recent_lengths": list(self.recent_lengths),
            "metric_sums": dict(self.metric_sums), "metric_count": self.metric_count,
            "evaluations": list(self.evaluations), "solved_episode": self.solved_episode,
            "best": self.best, "eval_seconds": self.eval_seconds,
        }

    def load_state(self, state):
        if any(len(state[k]) != self.n_envs for k in ("episode_return", "episode_length")):
            raise ValueError(f"its episode counters are for {len(state['episode_return'])} environments, "
                             f"this run steps {self.n_envs}")
        self.env_steps, self.episodes = state["env_steps"], state["episodes"]
        self.terminated_episodes = state["terminated_episodes"]
        self.wall_before = state["wall_seconds"]
        self.agent.set_state(state["agent"])
        restored = state["env"] is not None and self.envs.restore(state["env"])  # else: fresh episodes
        self.collector.load_state(state, restored)
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

    def restore_best(self):
        """With keep_best: load the agent state of the best periodic evaluation (ties: the latest)."""
        if self.best is not None:
            self.agent.set_state(self.best["agent"])
            return {"env_steps": self.best["env_steps"], "eval_mean": self.best["mean"]}
        return None


def _mean(values):
    return float(np.mean(values)) if values else None


def _short(value):
    return None if value is None else f"{value:.1f}"
