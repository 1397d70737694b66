"""The Stable-Baselines3 counterpart of dqn and ddqn for ``advdl compare``: SB3's DQN with the same settings."""

NO_CLIP = 1e10  # SB3 always clips gradients; a bound nothing reaches


def sb3_settings(c):
    """SB3 DQN keyword arguments mirroring the hyperparameters ``c`` (a DQNConfig)."""
    rate = c.learning_rate if c.learning_rate_end is None else {"linear": [c.learning_rate, c.learning_rate_end]}
    return {"kwargs": {
        "learning_rate": rate, "batch_size": c.batch_size, "buffer_size": c.buffer_size,
        "learning_starts": c.learning_starts, "gamma": c.gamma, "train_freq": [c.train_freq, c.train_freq_unit],
        "gradient_steps": c.gradient_steps, "target_update_interval": c.target_update_interval,
        "exploration_initial_eps": c.exploration_initial_eps, "exploration_final_eps": c.exploration_final_eps,
        "exploration_fraction": c.exploration_fraction, "max_grad_norm": c.max_grad_norm or NO_CLIP,
        "policy_kwargs": {"net_arch": list(c.hidden_sizes)}}}
