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

from advdl.testing import run_algorithm

HORIZON = 100  # FrozenLake-v1's step limit, on either map


def lake_tables(env):
    """R[s, a]: the probability that the step reaches the goal (the only reward, 1); T[s, a, s']: the steps
    that do not end the episode."""
    n_s, n_a = env.observation_space.n, env.action_space.n
    R, T = np.zeros((n_s, n_a)), np.zeros((n_s, n_a, n_s))
    for s, actions in env.unwrapped.P.items():
        for a, outcomes in actions.items():
            for p, s2, reward, terminated in outcomes:
                R[s, a] += p * reward
                if not terminated:
                    T[s, a, s2] += p
    return R, T


def optimal_policy(R, T, gamma=0.99):
    q = np.zeros_like(R)
    while True:
        new = R + gamma * T @ q.max(axis=1)
        if np.abs(new - q).max() < 1e-12:
            return new.argmax(axis=1)
        q = new


def goal_probability(r, t, horizon=HORIZON):
    """From the start, within ``horizon`` steps, of the policy whose step is ``r[s]``, ``t[s, s']``."""
    p = np.zeros(len(r))
    for _ in range(horizon):
        p = r + t @ p
    return p[0]


def of_policy(R, T, policy):
    states = np.arange(len(policy))
    return goal_probability(R[states, policy], T[states, policy])


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
                    exact.append(of_policy(R, T, np.load(f"{out}/s{seed}/model.npz")["q_table"].argmax(axis=1)))
                    sampled.append(summary["eval"]["mean"])
                    steps.append(summary["env_steps"])
                    walls.append(summary["wall_seconds"])
            name = f"{map_name}, {'slippery' if slippery else 'not slippery'}"
            print(f"| {name} | {of_policy(R, T, optimal_policy(R, T)):.1%} | {', '.join(f'{p:.1%}' for p in exact)} "
                  f"| {statistics.median(exact):.1%} | {statistics.median(sampled):.1%} "
                  f"| {goal_probability(R.mean(axis=1), T.mean(axis=1)):.2%} | {statistics.median(steps):,} "
                  f"| {statistics.median(walls):.1f} |", flush=True)


if __name__ == "__main__":
    main()
