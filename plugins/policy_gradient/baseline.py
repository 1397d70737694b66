"""The Stable-Baselines3 counterpart of the policy-gradient agents for ``advdl compare``: SB3's A2C with the
same settings (n-step A2C is the closest SB3 has to REINFORCE and one-step actor-critic)."""

NO_CLIP = 1e10  # SB3 always clips gradients; a bound nothing reaches


def sb3_settings(c, n_steps=5):
    """SB3 A2C keyword arguments (and its environment wrappers) mirroring the hyperparameters ``c``;
    ``n_steps``: the rollout length where ``c`` has none."""
    rate = c.learning_rate if c.learning_rate_end is None else {"linear": [c.learning_rate, c.learning_rate_end]}
    return {"n_envs": getattr(c, "n_envs", 1), "normalize_obs": c.normalize_obs,
            "normalize_reward": getattr(c, "normalize_reward", False),
            "kwargs": {
                "learning_rate": rate, "n_steps": getattr(c, "n_steps", n_steps), "gamma": c.gamma,
                "gae_lambda": getattr(c, "gae_lambda", 1.0), "ent_coef": c.ent_coef, "vf_coef": c.vf_coef,
                "max_grad_norm": c.max_grad_norm or NO_CLIP, "normalize_advantage": c.normalize_advantage,
                "use_rms_prop": c.optimizer == "rmsprop", "use_sde": c.sde, "sde_sample_freq": c.sde_sample_freq,
                "policy_kwargs": {"net_arch": {"pi": list(c.hidden_sizes), "vf": list(c.hidden_sizes)},
                                  "log_std_init": c.log_std_init}}}


def sb3_one_step_settings(c):
    """Actor-critic learns after every step: SB3's A2C with n_steps=1."""
    return sb3_settings(c, n_steps=1)
