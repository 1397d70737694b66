"""advdl's own Gymnasium environments (installed as ``advdl_envs``), registered by a hook."""

from advdl import EnvSpec, hookimpl


@hookimpl
def advdl_register_envs(register):
    register(EnvSpec(
        id="advdl/QWorld-v0",
        entry_point="advdl_envs.qworld:QWorldEnv",
        summary="The book's 6-state Q-learning world: a 2x3 grid with a goal (+100) and a hole (-100).",
        max_episode_steps=100,
        reward_threshold=100.0,
    ))
    register(EnvSpec(
        id="advdl/PixelGrid-v0",
        entry_point="advdl_envs.pixelgrid:PixelGridEnv",
        summary="A 10x10 grid seen as a 10x10x3 image: reach the green goal (random each episode); for CNN torsos.",
        max_episode_steps=40,
        reward_threshold=0.85,
    ))
