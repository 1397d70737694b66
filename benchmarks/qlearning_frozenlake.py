"""Q-learning on FrozenLake-v1, 4x4 and 8x8, slippery and not, against the optimum: each learned greedy
policy's exact probability of reaching the goal within the env's 100-step limit, next to the optimal
policy's (value iteration, gamma 0.99) and random play's, computed from the lake's transition table.
Also the goal rate of advdl's final evaluation (1,000 greedy episodes), the book's measure.

    python benchmarks/qlearning_frozenlake.py [--seeds 0,1,2] [--maps 4x4,8x8]

The book reports about 1.5% for random play and about 76% (not slippery, as its code really ran:
is_slippery was set after creation, a no-op) / 71% learned, on the 4x4. Here is_slippery reaches the env.
The sampled goal rates share their episode seeds from run to run (seed + 200,000 + i), so they share their
luck too: on the slippery 8x8 that block of seeds runs about 0.05 above the exact probability.
"""

import argparse
import statistics
import tempfile

import gymnasium as gym
import numpy as np
from advdl_plugins.qlearning.exact import goal_probability, lake_tables, optimal_policy, policy_goal_probability

from advdl.testing import run_algorithm

HORIZON = 100  # FrozenLake-v1's step limit, on either map


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2", help="Comma-separated seeds [0,1,2].")
    parser.add_argument("--maps", default="4x4,8x8", help="Comma-separated FrozenLake maps [4x4,8x8].")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    print("| FrozenLake-v1 (FrozenLake-v1 preset) | optimum | learned, exact (per seed) | median | goal rate of "
          "1,000 greedy episodes (median) | random play | train steps (median) | wall s (median) |")
    print("|---|---|---|---|---|---|---|---|")
    for map_name in args.maps.split(","):
        for slippery in (False, True):
            kwargs = {"map_name": map_name, "is_slippery": slippery}
            R, T = lake_tables(gym.make("FrozenLake-v1", **kwargs))
            exact, sampled, steps, walls = [], [], [], []
            with tempfile.TemporaryDirectory() as out:
                for seed in seeds:
                    summary = run_algorithm("qlearning", "FrozenLake-v1", f"{out}/s{seed}", seed=seed,
                                            env_kwargs=kwargs)
                    learned = np.load(f"{out}/s{seed}/model.npz")["q_table"].argmax(axis=1)
                    exact.append(policy_goal_probability(R, T, learned, HORIZON))
                    sampled.append(summary["eval"]["mean"])
                    steps.append(summary["env_steps"])
                    walls.append(summary["wall_seconds"])
            name = f"{map_name}, {'slippery' if slippery else 'not slippery'}"
            optimum = policy_goal_probability(R, T, optimal_policy(R, T), HORIZON)
            print(f"| {name} | {optimum:.1%} | {', '.join(f'{p:.1%}' for p in exact)} "
                  f"| {statistics.median(exact):.1%} | {statistics.median(sampled):.1%} "
                  f"| {goal_probability(R.mean(axis=1), T.mean(axis=1), HORIZON):.2%} | {statistics.median(steps):,} "
                  f"| {statistics.median(walls):.1f} |", flush=True)


if __name__ == "__main__":
    main()
