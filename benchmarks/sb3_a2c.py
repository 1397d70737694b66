"""Train SB3's A2C with rl-baselines3-zoo's CartPole-v1 settings, evaluated exactly like advdl.

Run by a2c_vs_sb3.py in its own process (``python benchmarks/sb3_a2c.py SEED STEPS``); prints one
JSON line. advdl's protocol: every 10,000 env steps 10 greedy episodes seeded ``seed + 100000 + i``;
the final evaluation 20 episodes seeded ``seed + 200000 + i``.
"""

import json
import sys
import time

from sb3_eval import evaluate
from stable_baselines3 import A2C
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

EVAL_INTERVAL, EVAL_EPISODES, FINAL_EPISODES, THRESHOLD = 10_000, 10, 20, 475.0


class PeriodicEval(BaseCallback):
    def __init__(self, seed, start):
        super().__init__()
        self.seed, self.start, self.evaluations, self.eval_seconds, self.next_eval = seed, start, [], 0.0, EVAL_INTERVAL

    def _on_step(self):
        if self.num_timesteps >= self.next_eval:  # 8 envs: steps advance by 8
            self.next_eval += EVAL_INTERVAL
            started = time.perf_counter()
            mean = evaluate(self.model, EVAL_EPISODES, self.seed + 100_000)
            self.eval_seconds += time.perf_counter() - started
            self.evaluations.append({"env_steps": self.num_timesteps, "mean": mean,
                                     "wall_seconds": time.perf_counter() - self.start})
        return True


def main(seed, steps):
    start = time.perf_counter()
    model = A2C("MlpPolicy", make_vec_env("CartPole-v1", n_envs=8, seed=seed), ent_coef=0.0, seed=seed, verbose=0)
    callback = PeriodicEval(seed, start)
    model.learn(total_timesteps=steps, callback=callback)
    wall = time.perf_counter() - start
    final = evaluate(model, FINAL_EPISODES, seed + 200_000)
    first = next((e for e in callback.evaluations if e["mean"] >= THRESHOLD), None)
    print(json.dumps({"seed": seed, "env_steps": steps, "wall_seconds": wall, "eval_seconds": callback.eval_seconds,
                      "steps_per_second": steps / wall, "final_mean": final, "first_eval_at_threshold": first,
                      "evaluations": callback.evaluations}))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
