"""Train SB3's A2C with rl-baselines3-zoo's settings for ENV_ID, evaluated exactly like advdl.

Run by a2c_vs_sb3.py in its own process (``python benchmarks/sb3_a2c.py ENV_ID SEED STEPS``);
prints one JSON line. advdl's protocol: every ``eval_interval`` env steps 10 greedy episodes seeded
``seed + 100000 + i``; the final evaluation 20 episodes seeded ``seed + 200000 + i``. With the
zoo's ``normalize`` the policy sees observations normalised by the training statistics.
"""

import json
import sys
import time

from sb3_eval import evaluate
from stable_baselines3 import A2C
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

EVAL_EPISODES, FINAL_EPISODES = 10, 20


def linear(initial):
    return lambda progress_remaining: progress_remaining * initial


# rl-baselines3-zoo's hyperparams/a2c.yml
ZOO = {
    "CartPole-v1": {"n_envs": 8, "normalize": False, "kwargs": {"ent_coef": 0.0}},
    "Acrobot-v1": {"n_envs": 16, "normalize": True, "kwargs": {"ent_coef": 0.0}},
    "Pendulum-v1": {"n_envs": 8, "normalize": True, "kwargs": {
        "ent_coef": 0.0, "max_grad_norm": 0.5, "n_steps": 8, "gae_lambda": 0.9, "vf_coef": 0.4, "gamma": 0.9,
        "use_rms_prop": True, "normalize_advantage": False, "learning_rate": linear(7e-4), "use_sde": True,
        "policy_kwargs": {"log_std_init": -2, "ortho_init": False}}},
}


class PeriodicEval(BaseCallback):
    def __init__(self, env_id, seed, start, interval, threshold, normalizer):
        super().__init__()
        self.env_id, self.seed, self.start, self.interval = env_id, seed, start, interval
        self.threshold, self.normalizer = threshold, normalizer
        self.evaluations, self.eval_seconds, self.next_eval = [], 0.0, interval

    def _on_step(self):
        if self.num_timesteps >= self.next_eval:  # n envs: steps advance by n
            self.next_eval += self.interval
            started = time.perf_counter()
            mean = evaluate(self.model, EVAL_EPISODES, self.seed + 100_000, self.env_id, self.normalizer)
            self.eval_seconds += time.perf_counter() - started
            self.evaluations.append({"env_steps": self.num_timesteps, "mean": mean,
                                     "wall_seconds": time.perf_counter() - self.start})
        return True


def main(env_id, seed, steps, eval_interval, threshold):
    settings = ZOO[env_id]
    start = time.perf_counter()
    env = make_vec_env(env_id, n_envs=settings["n_envs"], seed=seed)
    normalizer = None
    if settings["normalize"]:
        env = normalizer = VecNormalize(env, gamma=settings["kwargs"].get("gamma", 0.99))
    model = A2C("MlpPolicy", env, seed=seed, verbose=0, **settings["kwargs"])
    callback = PeriodicEval(env_id, seed, start, eval_interval, threshold, normalizer)
    model.learn(total_timesteps=steps, callback=callback)
    wall = time.perf_counter() - start
    final = evaluate(model, FINAL_EPISODES, seed + 200_000, env_id, normalizer)
    first = next((e for e in callback.evaluations if threshold is not None and e["mean"] >= threshold), None)
    print(json.dumps({"seed": seed, "env_steps": steps, "wall_seconds": wall, "eval_seconds": callback.eval_seconds,
                      "steps_per_second": steps / wall, "final_mean": final, "first_eval_at_threshold": first,
                      "evaluations": callback.evaluations}))


if __name__ == "__main__":
    env_id, seed, steps, interval = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    main(env_id, seed, steps, interval, float(sys.argv[5]) if len(sys.argv) > 5 else None)
