"""Q-learning on FrozenLake-v1 (4x4), the book's chapter 9 comparison: goal rate of 1,000 greedy
episodes after training, slippery and not, next to random play.

    python benchmarks/qlearning_frozenlake.py [--seeds 0,1,2]

The book reports about 1.5% for random play and about 76% (not slippery, as its code really ran:
is_slippery was set after creation, a no-op) / 71% learned. Here is_slippery reaches the env.
"""

import argparse
import statistics
import tempfile

import gymnasium as gym
import numpy as np

from advdl.testing import run_algorithm


def random_goal_rate(episodes, seed, slippery):
    env = gym.make("FrozenLake-v1", is_slippery=slippery)
    rng = np.random.default_rng(seed)
    goals = 0
    for i in range(episodes):
        env.reset(seed=seed + i)
        done, reward = False, 0.0
        while not done:
            _, reward, terminated, truncated, _ = env.step(int(rng.integers(4)))
            done = terminated or truncated
        goals += reward > 0
    return goals / episodes


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2", help="Comma-separated seeds [0,1,2].")
    seeds = [int(s) for s in parser.parse_args().seeds.split(",")]
    print("| FrozenLake-v1 4x4 | goal rate, 1,000 greedy episodes (per seed) | median | train steps | wall s |")
    print("|---|---|---|---|---|")
    for slippery in (False, True):
        rates, walls, steps = [], [], 0
        with tempfile.TemporaryDirectory() as out:
            for seed in seeds:
                kwargs = {"is_slippery": slippery}
                budget = {} if slippery else {"steps": 30_000}
                summary = run_algorithm("qlearning", "FrozenLake-v1", f"{out}/s{seed}", seed=seed,
                                        env_kwargs=kwargs, **budget)
                rates.append(summary["eval"]["mean"])
                walls.append(summary["wall_seconds"])
                steps = summary["env_steps"]
        name = "slippery" if slippery else "not slippery"
        print(f"| qlearning, {name} | {', '.join(f'{r:.1%}' for r in rates)} | {statistics.median(rates):.1%} "
              f"| {steps:,} | {statistics.median(walls):.1f} |")
        random_rates = [random_goal_rate(1000, seed, slippery) for seed in seeds]
        print(f"| random play, {name} | {', '.join(f'{r:.1%}' for r in random_rates)} "
              f"| {statistics.median(random_rates):.1%} | - | - |")


if __name__ == "__main__":
    main()
