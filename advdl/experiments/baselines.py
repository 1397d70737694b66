"""Stable-Baselines3 counterparts of advdl's agents, trained and evaluated with advdl's protocol.

Run by ``advdl compare`` in its own process, never inside an advdl algorithm:

    python -m advdl.experiments.baselines SETTINGS.json SEED OUT_DIR

SETTINGS holds the SB3 class, its keyword arguments (mapped from the advdl run's settings by
advdl.experiments.compare), the environment and the evaluation settings. Periodic evaluations: greedy
episodes seeded ``seed + 100000 + i``; the final one ``seed + 200000 + i`` (as advdl's). Writes
OUT_DIR/summary.json with the keys advdl's own summary uses.
"""

import copy
import json
import sys
import time
from pathlib import Path

from advdl.rl.evaluation import FINAL, MAX_EPISODE_STEPS, PERIODIC


def greedy_returns(model, env_id, env_kwargs, episodes, seed, normalizer=None):
    """advdl's evaluation protocol for an SB3 model: the same episode seeds, and an episode that never
    ends (CliffWalking has no time limit) stops at advdl's MAX_EPISODE_STEPS as advdl's own do."""
    import gymnasium as gym

    env, returns = gym.make(env_id, **env_kwargs), []
    discrete = isinstance(env.action_space, gym.spaces.Discrete)
    try:
        for i in range(episodes):
            obs, _ = env.reset(seed=seed + i)
            done, total, length = False, 0.0, 0
            while not done:
                seen = normalizer.normalize_obs(obs) if normalizer is not None else obs
                action, _ = model.predict(seen, deterministic=True)
                # predict gives a 0-d array; the toy-text envs index their tables with the action
                obs, reward, terminated, truncated, _ = env.step(int(action) if discrete else action)
                total, length = total + float(reward), length + 1
                done = terminated or truncated or length >= MAX_EPISODE_STEPS
            returns.append(total)
    finally:
        env.close()
    return returns


def schedule(value):
    """A learning rate: a number, or {"linear": [start, end]} falling linearly over the run."""
    if isinstance(value, dict):
        start, end = value["linear"]
        return lambda remaining: end + remaining * (start - end)
    return value


def main(settings_path, seed, out_dir):
    import numpy as np
    import stable_baselines3
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    from advdl.loading.manager import get_registry
    from advdl.rl.environments import register_plugin_envs

    register_plugin_envs(get_registry())  # plugin environments (advdl/QWorld-v0) by id
    s = json.loads(Path(settings_path).read_text())
    env_id, env_kwargs, threshold = s["env"], s["env_kwargs"], s["reward_threshold"]
    kwargs = copy.deepcopy(s["kwargs"])  # SB3 adds objects to policy_kwargs; the summary keeps the plain ones
    kwargs["learning_rate"] = schedule(kwargs["learning_rate"])
    if "train_freq" in kwargs:
        kwargs["train_freq"] = tuple(kwargs["train_freq"])
    start = time.perf_counter()
    env = make_vec_env(env_id, n_envs=s["n_envs"], seed=seed, env_kwargs=env_kwargs)
    normalizer = None
    if s.get("normalize_obs") or s.get("normalize_reward"):
        env = normalizer = VecNormalize(env, norm_obs=s.get("normalize_obs", False),
                                        norm_reward=s.get("normalize_reward", False), gamma=kwargs.get("gamma", 0.99))
    model = getattr(stable_baselines3, s["sb3_class"])("MlpPolicy", env, seed=seed, verbose=0, **kwargs)
    evaluations, eval_time, best = [], [0.0], [None]

    class PeriodicEvaluation(BaseCallback):
        next_at = s["eval_interval"]

        def _on_step(self):
            if s["eval_interval"] and self.num_timesteps >= self.next_at:
                self.next_at += s["eval_interval"]
                began = time.perf_counter()
                returns = greedy_returns(self.model, env_id, env_kwargs, s["eval_episodes"], seed + PERIODIC, normalizer)
                eval_time[0] += time.perf_counter() - began
                mean = float(np.mean(returns))
                evaluations.append({"env_steps": self.num_timesteps, "mean": mean, "std": float(np.std(returns)),
                                    "wall_seconds": time.perf_counter() - start})
                if s["keep_best"] and (best[0] is None or mean >= best[0][0]):
                    best[0] = (mean, copy.deepcopy(self.model.policy.state_dict()))
            return True

    model.learn(total_timesteps=s["steps"], callback=PeriodicEvaluation())
    wall = time.perf_counter() - start
    if best[0] is not None:
        model.policy.load_state_dict(best[0][1])
    returns = greedy_returns(model, env_id, env_kwargs, s["final_eval_episodes"], seed + FINAL, normalizer)
    first = next((e for e in evaluations if threshold is not None and e["mean"] >= threshold), None)
    summary = {
        "algorithm": f"SB3 {s['sb3_class']}", "env": env_id, "seed": seed, "env_steps": int(model.num_timesteps),
        "wall_seconds": round(wall, 3), "steps_per_second": round(model.num_timesteps / wall, 1),
        "eval_seconds": round(eval_time[0], 3),
        "eval": {"mean": float(np.mean(returns)), "std": float(np.std(returns)), "episodes": len(returns),
                 "returns": returns},
        "kept_best": best[0] is not None, "reward_threshold": threshold,
        "first_eval_at_threshold": first and {"env_steps": first["env_steps"], "wall_seconds": first["wall_seconds"]},
        "evaluations": evaluations, "sb3_kwargs": s["kwargs"],
        "versions": {"stable_baselines3": stable_baselines3.__version__},
    }
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    (Path(out_dir) / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
