"""Plots written into the run folder."""

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig_or_plt, path, **kwargs):
    """Render to memory, then replace ``path`` atomically: a link there is replaced, never written
    through, and a reader never sees half a PNG."""
    import io
    from pathlib import Path

    from advdl.api.files import write_atomic

    buffer = io.BytesIO()
    save = fig_or_plt.savefig if hasattr(fig_or_plt, "savefig") else fig_or_plt
    save(buffer, format=Path(path).suffix.lstrip(".") or "png", **kwargs)
    write_atomic(path, buffer.getvalue())


def _finish(plt, fig, ax, path, title, xlabel, ylabel, legend=True):
    """Labels, grid and legend; the figure written to ``path`` and closed."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if legend and ax.get_legend_handles_labels()[0]:  # a run without a finished episode has nothing to label
        ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def learning_curve(path, episode_steps, episode_returns, evaluations, title, threshold=None):
    """Training returns (raw and a 100-episode mean) and evaluation means against env steps."""
    plt = _pyplot()
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
    _finish(plt, fig, ax, path, title, "environment steps", "return")


def epoch_curves(path, history, train_names, test_names, title):
    """Per-epoch training and test metrics: losses on the left, the others (accuracy) on the right."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    epochs = [row["epoch"] for row in history]
    for name in (*train_names, *test_names):
        values = [row.get(name) for row in history]
        if epochs and all(v is not None for v in values):
            axis = left if "loss" in name else right
            axis.plot(epochs, values, marker="o", markersize=3, label=name)
    for axis, label in ((left, "loss"), (right, "accuracy / other")):
        axis.set_xlabel("epoch")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
        if axis.lines:
            axis.legend(fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def confusion_matrix(path, labels, predictions, num_classes, title):
    """Counts of (true label, predicted label), with the count in every cell."""
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(labels), np.asarray(predictions)), 1)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 6), dpi=100)
    ax.imshow(counts, cmap="Blues")
    for i in range(num_classes):
        for j in range(num_classes):
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if counts[i, j] > counts.max() / 2 else "black")
    ax.set_xticks(range(num_classes))
    ax.set_yticks(range(num_classes))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return counts


def as_rgb(images):
    """Grey images (N, H, W, 1) as RGB, to sit beside colour ones in a grid; colour ones unchanged."""
    return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images


def image_grid(path, images, columns):
    """Images in [0, 1] (N, H, W, C) tiled into one PNG, ``columns`` per row."""
    images = np.clip(np.asarray(images, dtype=np.float32), 0, 1)
    n, h, w, c = images.shape
    rows = -(-n // columns)
    grid = np.ones((rows * h, columns * w, c), np.float32)
    for i, image in enumerate(images):
        r, k = divmod(i, columns)
        grid[r * h:(r + 1) * h, k * w:(k + 1) * w] = image
    plt = _pyplot()
    _save(plt.imsave, path, arr=grid[..., 0] if c == 1 else grid, cmap="gray" if c == 1 else None, vmin=0, vmax=1)


def latent_scatter(path, points, labels, title):
    """2-d latent codes of held-out images, coloured by their label (the book's figures 3.2 and 8.1)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 5.5), dpi=100)
    scatter = ax.scatter(points[:, 0], points[:, 1], c=labels, cmap="tab10", s=4, alpha=0.7)
    fig.colorbar(scatter, ax=ax, ticks=range(int(np.max(labels, initial=0)) + 1), label="label")
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    ax.set_title(title)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def line_plot(path, x, y, xlabel, ylabel, title):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4), dpi=100)
    ax.plot(x, y, marker="o")
    _finish(plt, fig, ax, path, title, xlabel, ylabel, legend=False)


def seed_curves(path, groups, title, xlabel, ylabel, threshold=None):
    """Per-seed curves (thin) and, for each group, the mean over seeds with a 95% bootstrap band,
    on the x values every seed of the group reached (``groups``: {name: [(x, y), ...]})."""
    from advdl.api.stats import bootstrap_interval

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for colour, (name, runs) in zip(("tab:blue", "tab:orange", "tab:green", "tab:red"), groups.items()):
        runs = [(np.asarray(x, float), np.asarray(y, float)) for x, y in runs if len(x)]
        for x, y in runs:
            ax.plot(x, y, color=colour, alpha=0.25, linewidth=0.8)
        if not runs:
            continue
        end = min(x[-1] for x, _ in runs)
        grid = np.unique(np.concatenate([x[x <= end] for x, _ in runs]))
        values = np.stack([np.interp(grid, x, y) for x, y in runs])
        bands = np.array([bootstrap_interval(values[:, i], samples=500) for i in range(len(grid))])
        ax.plot(grid, values.mean(0), color=colour, linewidth=2, label=f"{name}: mean of {len(runs)} seeds")
        ax.fill_between(grid, bands[:, 0], bands[:, 1], color=colour, alpha=0.2)
    if threshold is not None:
        ax.axhline(threshold, color="grey", linestyle="--", linewidth=0.8, label=f"solved ({threshold:g})")
    _finish(plt, fig, ax, path, title, xlabel, ylabel)
