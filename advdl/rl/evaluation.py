"""Deterministic evaluation: the greedy policy on freshly seeded environments, batched."""

import numpy as np

# Periodic evaluations (which may select the kept model) and final evaluations (which report
# it) use disjoint episode seeds, so the reported number is not biased by the selection.
PERIODIC = 100_000
FINAL = 200_000
EXPORT = 300_000  # the episodes whose observations check an exported policy
EXPORT_OBSERVATIONS = 300
# A greedy policy that never reaches the goal of an environment without a time limit (CliffWalking-v1)
# would step forever: an evaluation episode ends after this many steps (a time limit of its own comes first).
MAX_EPISODE_STEPS = 100_000


def evaluate(agent, make_env, episodes, seed, offset=FINAL, batch=32):
    """Returns of ``episodes`` greedy episodes, episode i seeded with ``seed + offset + i``.

    Up to ``batch`` environments step side by side so the policy is called on a batch of
    observations instead of once per environment.
    """
    returns = []
    envs = [make_env() for _ in range(min(batch, episodes))]
    try:
        for start in range(0, episodes, len(envs)):
            count = min(len(envs), episodes - start)
            active = list(range(count))
            obs = [envs[i].reset(seed=seed + offset + start + i)[0] for i in active]
            totals, lengths = [0.0] * count, [0] * count
            while active:
                actions = agent.env_action(agent.act(np.stack([obs[i] for i in active]), explore=False))
                still = []
                for i, action in zip(active, actions):
                    obs[i], reward, terminated, truncated, _ = envs[i].step(action)
                    totals[i] += float(reward)
                    lengths[i] += 1
                    if not (terminated or truncated or lengths[i] >= MAX_EPISODE_STEPS):
                        still.append(i)
                active = still
            returns.extend(totals)
    finally:
        for env in envs:
            env.close()
    return returns


def greedy_observations(agent, make_env, seed, count=EXPORT_OBSERVATIONS, max_episodes=50):
    """``count`` raw observations of greedy episodes (episode i seeded with ``seed + EXPORT + i``), batched:
    the real inputs an exported policy is checked on."""
    observations = []
    env = make_env()
    try:
        for episode in range(max_episodes):
            obs, _ = env.reset(seed=seed + EXPORT + episode)
            done = False
            while not done and len(observations) < count:
                observations.append(obs)
                action = agent.env_action(agent.act(np.asarray(obs)[None], explore=False))[0]
                obs, _, terminated, truncated, _ = env.step(action)
                done = terminated or truncated
            if len(observations) >= count:
                break
    finally:
        env.close()
    return np.stack(observations)


def stats(returns):
    values = np.asarray(returns, dtype=float)
    return {"mean": float(values.mean()), "std": float(values.std()), "episodes": len(values)}
