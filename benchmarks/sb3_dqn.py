"""Train SB3's DQN with rl-baselines3-zoo's CartPole-v1 settings, evaluated like advdl.

Run by dqn_vs_sb3.py in its own process (``python benchmarks/sb3_dqn.py SEED STEPS``); prints
one JSON line. The evaluation protocol is advdl's: every 2,500 env steps, 10 greedy episodes
seeded ``seed + 100000 + i``; a final evaluation of 20 episodes. Its time counts in the wall time.
"""

import json
import sys
import time

import gymnasium as gym
import numpy as np
from stable_baselines3 import DQN
from stable_baselines3.common.callbacks import BaseCallback

EVAL_INTERVAL, EVAL_EPISODES, FINAL_EPISODES, THRESHOLD = 2500, 10, 20, 475.0


def evaluate(model, episodes, seed):
    returns = []
    env = gym.make("CartPole-v1")
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + 100_000 + i)
        done, total = False, 0.0
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += reward
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


class PeriodicEval(BaseCallback):
    def __init__(self, seed, start):
        super().__init__()
        self.seed, self.start, self.evaluations = seed, start, []

    def _on_step(self):
        if self.num_timesteps % EVAL_INTERVAL == 0:
            self.evaluations.append({"env_steps": self.num_timesteps, "mean": evaluate(self.model, EVAL_EPISODES, self.seed),
                                     "wall_seconds": time.perf_counter() - self.start})
        return True


def main(seed, steps):
    start = time.perf_counter()
    model = DQN("MlpPolicy", gym.make("CartPole-v1"), learning_rate=2.3e-3, batch_size=64, buffer_size=100_000,
                learning_starts=1000, gamma=0.99, target_update_interval=10, train_freq=256,
                gradient_steps=128, exploration_fraction=0.16, exploration_final_eps=0.04,
                policy_kwargs={"net_arch": [256, 256]}, seed=seed, verbose=0)
    callback = PeriodicEval(seed, start)
    model.learn(total_timesteps=steps, callback=callback)
    final = evaluate(model, FINAL_EPISODES, seed)
    wall = time.perf_counter() - start
    first = next((e for e in callback.evaluations if e["mean"] >= THRESHOLD), None)
    print(json.dumps({"seed": seed, "env_steps": steps, "wall_seconds": wall, "steps_per_second": steps / wall,
                      "final_mean": final, "first_eval_at_threshold": first, "evaluations": callback.evaluations}))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
