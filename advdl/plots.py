"""Plots written into the run folder."""

import numpy as np


def learning_curve(path, episode_steps, episode_returns, evaluations, title, threshold=None):
    """Training returns (raw and a 100-episode mean) and evaluation means against env steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    if len(episode_returns):
        steps = np.asarray(episode_steps, dtype=float)
        returns = np.asarray(episode_returns, dtype=float)
        ax.plot(steps, returns, color="tab:blue", alpha=0.25, linewidth=0.8, label="episode return")
        window = min(100, len(returns))
        smooth = np.convolve(returns, np.ones(window) / window, mode="valid")
        ax.plot(steps[window - 1:], smooth, color="tab:blue", label=f"mean of {window} episodes")
    if evaluations:
        ax.errorbar([e["env_steps"] for e in evaluations], [e["mean"] for e in evaluations],
                    yerr=[e["std"] for e in evaluations], color="tab:orange", marker="o",
                    capsize=3, label="deterministic evaluation")
    if threshold is not None:
        ax.axhline(threshold, color="grey", linestyle="--", linewidth=0.8, label=f"solved ({threshold:g})")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
