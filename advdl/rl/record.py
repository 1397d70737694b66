"""``advdl eval --record``: one greedy episode of a finished RL run as an animation."""

import os
import sys
from pathlib import Path

from advdl.api.errors import ConfigError
from advdl.rl.environments import for_agent, make_env
from advdl.runs import checkpoint
from advdl.settings.values import env_kwargs_values

RECORD_FORMATS = (".gif", ".webp")  # animations Pillow writes; imageio's others (.mp4) need extra packages
RECORD_OFFSET = 100_000  # the recorded episode's seed: seed + RECORD_OFFSET (the periodic evaluations' first)


def check_record(path):
    if Path(path).suffix.lower() not in RECORD_FORMATS:
        raise ConfigError(f"--record writes an animation: its file must end in {' or '.join(RECORD_FORMATS)}, "
                          f"got {Path(path).name}")


def record_episode(agent, run_config, registry, path, seed):
    """Write one greedy episode as an animation (.gif or .webp); returns its frame count. The episode
    ends, as an evaluation's, after evaluation.MAX_EPISODE_STEPS steps, and earlier if its frames
    would no longer fit in memory."""
    import imageio.v3 as iio
    import numpy as np

    from advdl.api.errors import AdvdlError
    from advdl.api.memory import available_bytes
    from advdl.rl import evaluation

    check_record(path)
    # off-screen rendering needs no display or sound device (SDL complains on headless machines)
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    env = for_agent(make_env(run_config.env, registry, env_kwargs_values(run_config.env_kwargs),
                             render_mode="rgb_array"), type(agent))
    try:
        modes = list(env.metadata.get("render_modes") or ())
        if "rgb_array" not in modes:
            raise ConfigError(f"--record needs an environment that renders images (render mode rgb_array); "
                              f"{run_config.env} renders {', '.join(map(str, modes)) or 'nothing'}")
        obs, _ = env.reset(seed=seed + RECORD_OFFSET)
        frames = [_frame(env, run_config.env)]
        room = available_bytes()  # the frames, and as much again to encode them
        limit = evaluation.MAX_EPISODE_STEPS
        if room is not None:
            limit = max(1, min(limit, room // (2 * frames[0].nbytes + 1)))
        done = False
        while not done and len(frames) <= limit:
            action = agent.env_action(agent.act(np.asarray(obs)[None], explore=False))[0]
            obs, _, terminated, truncated, _ = env.step(action)
            frames.append(_frame(env, run_config.env))
            done = terminated or truncated
        if not done:
            print(f"advdl: --record: the episode was cut after {len(frames) - 1:,} steps ("
                  + ("the evaluation's step cap" if limit == evaluation.MAX_EPISODE_STEPS else "its frames fill the memory")
                  + ")", file=sys.stderr)
        fps = env.metadata.get("render_fps") or 30
    finally:
        env.close()
    suffix = Path(path).suffix.lower()
    if len({frame.shape for frame in frames}) > 1:
        raise ConfigError(f"--record: {run_config.env} rendered frames of different sizes; they make no animation")
    data = iio.imwrite("<bytes>", np.stack(frames), extension=suffix, duration=1000 / fps, loop=0)
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        checkpoint.write_atomic(path, data)
    except OSError as exc:
        raise AdvdlError(f"cannot write {path}: {exc.strerror or exc}") from None
    return len(frames)


def _frame(env, env_id):
    """The environment's rendered image (H, W, 3) uint8, or one line saying why there is none."""
    import numpy as np

    try:
        frame = env.render()
    except Exception as exc:  # a renderer's missing dependency (pygame), a display it cannot open...
        raise ConfigError(f"--record: {env_id} cannot render: {type(exc).__name__}: {exc}") from None
    frame = np.asarray(frame) if frame is not None else None
    if frame is None or frame.ndim != 3 or frame.shape[-1] not in (3, 4) or frame.size == 0:
        shape = "nothing" if frame is None else f"an array of shape {frame.shape}"
        raise ConfigError(f"--record: {env_id} rendered {shape}, not an image (height, width, 3)")
    return frame[..., :3].astype(np.uint8, copy=False)


