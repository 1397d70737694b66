"""advdl's evaluation protocol for an SB3 model: greedy episodes with seeds ``seed + i``."""

import gymnasium as gym
import numpy as np


def evaluate(model, episodes, seed, env_id="CartPole-v1", normalizer=None):
    """Mean return; ``normalizer`` (a VecNormalize) normalises observations with its frozen statistics."""
    returns = []
    env = gym.make(env_id)
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        done, total = False, 0.0
        while not done:
            policy_obs = normalizer.normalize_obs(obs) if normalizer is not None else obs
            action, _ = model.predict(policy_obs, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += reward
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns))
