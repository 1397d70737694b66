"""Statistics over seeds: mean, median, interquartile mean and percentile-bootstrap intervals
(Agarwal et al. 2021, "Deep RL at the edge of the statistical precipice"). Numpy only."""

import numpy as np

BOOTSTRAP_SAMPLES = 2000


def iqm(values):
    """Interquartile mean: the mean of the middle half (floor(n / 4) cut from each end, as
    scipy.stats.trim_mean(values, 0.25))."""
    values = np.sort(np.asarray(values, dtype=float))
    cut = len(values) // 4
    return float(values[cut:len(values) - cut].mean())


def bootstrap_interval(values, statistic=np.mean, level=0.95, samples=BOOTSTRAP_SAMPLES, seed=0):
    """(low, high) percentile-bootstrap interval of ``statistic`` over ``values`` resampled with replacement."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float(values[0]), float(values[0])
    rng = np.random.default_rng(seed)
    draws = np.array([statistic(values[rng.integers(0, len(values), len(values))]) for _ in range(samples)])
    low, high = np.percentile(draws, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return float(low), float(high)


def describe(values):
    """Per-seed values, their mean, median and IQM with 95% bootstrap intervals."""
    values = [float(v) for v in values]
    return {"values": values, "mean": float(np.mean(values)), "mean_ci95": bootstrap_interval(values, np.mean),
            "median": float(np.median(values)), "iqm": iqm(values), "iqm_ci95": bootstrap_interval(values, iqm)}
