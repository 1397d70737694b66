"""Train SB3's DQN with rl-baselines3-zoo's CartPole-v1 settings, evaluated exactly like advdl.

Run by dqn_vs_sb3.py in its own process (``python benchmarks/sb3_dqn.py SEED STEPS``); prints
one JSON line. advdl's protocol: every 2,500 env steps 10 greedy episodes seeded
``seed + 100000 + i``; the final evaluation 20 episodes seeded ``seed + 200000 + i``, of the last
weights and (as SB3's EvalCallback best_model does) of the best periodic evaluation's weights.
"""

import copy
import json
import sys
import time

import gymnasium as gym
from sb3_eval import evaluate
from stable_baselines3 import DQN
from stable_baselines3.common.callbacks import BaseCallback

EVAL_INTERVAL, EVAL_EPISODES, FINAL_EPISODES, THRESHOLD = 2500, 10, 20, 475.0


class PeriodicEval(BaseCallback):
    def __init__(self, seed, start):
        super().__init__()
        self.seed, self.start = seed, start
        self.evaluations, self.eval_seconds, self.best = [], 0.0, None

    def _on_step(self):
        if self.num_timesteps % EVAL_INTERVAL == 0:
            started = time.perf_counter()
            mean = evaluate(self.model, EVAL_EPISODES, self.seed + 100_000)
            self.eval_seconds += time.perf_counter() - started
            self.evaluations.append({"env_steps": self.num_timesteps, "mean": mean,
                                     "wall_seconds": time.perf_counter() - self.start})
            if self.best is None or mean >= self.best[0]:
                self.best = (mean, copy.deepcopy(self.model.policy.state_dict()))
        return True


def main(seed, steps):
    start = time.perf_counter()
    model = DQN("MlpPolicy", gym.make("CartPole-v1"), learning_rate=2.3e-3, batch_size=64, buffer_size=100_000,
                learning_starts=1000, gamma=0.99, target_update_interval=10, train_freq=256,
                gradient_steps=128, exploration_fraction=0.16, exploration_final_eps=0.04,
                policy_kwargs={"net_arch": [256, 256]}, seed=seed, verbose=0)
    callback = PeriodicEval(seed, start)
    model.learn(total_timesteps=steps, callback=callback)
    wall = time.perf_counter() - start
    final = evaluate(model, FINAL_EPISODES, seed + 200_000)
    final_best = final
    if callback.best is not None:
        model.policy.load_state_dict(callback.best[1])
        final_best = evaluate(model, FINAL_EPISODES, seed + 200_000)
    first = next((e for e in callback.evaluations if e["mean"] >= THRESHOLD), None)
    print(json.dumps({"seed": seed, "env_steps": steps, "wall_seconds": wall, "eval_seconds": callback.eval_seconds,
                      "steps_per_second": steps / wall, "final_mean": final, "final_mean_best_kept": final_best,
                      "first_eval_at_threshold": first, "evaluations": callback.evaluations}))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
