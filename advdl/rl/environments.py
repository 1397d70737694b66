"""Making Gymnasium environments by id, with the plugins' environments registered first."""

import warnings

from advdl.api.errors import AdvdlError, ConfigError, unknown_name

_made = set()


def register_plugin_envs(registry):
    import gymnasium as gym

    for spec in registry.envs.values():
        if spec.id not in gym.registry:
            gym.register(id=spec.id, entry_point=spec.entry_point, kwargs=dict(spec.kwargs),
                         max_episode_steps=spec.max_episode_steps,
                         reward_threshold=spec.reward_threshold)


def check_env_id(env_id, registry):
    """Raise a clear error (with a did-you-mean) for an id neither Gymnasium nor a plugin knows."""
    import gymnasium as gym

    registry.check_conflict("env", env_id)
    register_plugin_envs(registry)
    if env_id not in gym.registry:
        raise unknown_name("environment", env_id, gym.registry.keys(),
                           " Registered environments: `python -c \"import gymnasium; gymnasium.pprint_registry()\"`.")


def make_env(env_id, registry, kwargs=None, render_mode=None):
    """``gymnasium.make`` with a clear error for an unknown id or bad keyword arguments."""
    import gymnasium as gym

    check_env_id(env_id, registry)
    check_max_episode_steps((kwargs or {}).get("max_episode_steps"))
    try:
        with warnings.catch_warnings():
            if env_id in _made:  # Gymnasium's warnings (e.g. "out of date") once, not per evaluation env
                warnings.simplefilter("ignore")
            env = gym.make(env_id, render_mode=render_mode, **(kwargs or {}))
        _made.add(env_id)
        return env
    except gym.error.Error as exc:
        raise AdvdlError(f"cannot make {env_id}: {exc}") from None
    except Exception as exc:  # the environment's constructor rejecting its keyword arguments (TypeError, KeyError...)
        raise AdvdlError(f"cannot make {env_id} with {kwargs}: {type(exc).__name__}: {exc}") from None


def for_agent(env, agent_class):
    """``env`` as ``agent_class`` sees it: a Dict or Tuple observation space flattened into one Box
    (Gymnasium's FlattenObservation) for an agent declaring ``flat_observations``."""
    import gymnasium as gym

    from advdl.api.observations import flat_space

    if getattr(agent_class, "flat_observations", False) and flat_space(env.observation_space) is not env.observation_space:
        return gym.wrappers.FlattenObservation(env)
    return env


def check_max_episode_steps(value):
    """gymnasium.make's own keyword: a positive integer (null: the environment's default limit). Gymnasium
    itself takes -1 (and any negative) as "no limit" and True as 1 without a word."""
    from advdl.settings.values import INT_MAX

    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= INT_MAX):
        raise ConfigError(f"--env-kwarg max_episode_steps must be a positive integer (the episodes' step limit; "
                          f"null: the environment's own), got {value!r}")


def reward_threshold(env):
    spec = getattr(env, "spec", None)
    return getattr(spec, "reward_threshold", None)
