"""advdl's evaluation protocol for an SB3 model: greedy episodes with seeds ``seed + i`` (advdl.experiments.baselines)."""

import numpy as np

from advdl.experiments.baselines import greedy_returns


def evaluate(model, episodes, seed, env_id="CartPole-v1", normalizer=None):
    """Mean return; ``normalizer`` (a VecNormalize) normalises observations with its frozen statistics."""
    return float(np.mean(greedy_returns(model, env_id, {}, episodes, seed, normalizer)))
