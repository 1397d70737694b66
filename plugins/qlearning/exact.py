"""Exact answers for FrozenLake-like tables (``env.unwrapped.P``), to hold learned Q-tables against:
the gamma-optimal policy by value iteration, and a policy's exact probability of reaching the goal
within a step limit (finite-horizon evaluation, no sampling)."""

import numpy as np


def lake_tables(env):
    """R[s, a]: the probability that the step reaches the goal (the only reward, 1); T[s, a, s']: the steps
    that do not end the episode."""
    n_s, n_a = env.observation_space.n, env.action_space.n
    R, T = np.zeros((n_s, n_a)), np.zeros((n_s, n_a, n_s))
    for s, actions in env.unwrapped.P.items():
        for a, outcomes in actions.items():
            for p, s2, reward, terminated in outcomes:
                R[s, a] += p * reward
                if not terminated:
                    T[s, a, s2] += p
    return R, T


def optimal_policy(R, T, gamma=0.99):
    q = np.zeros_like(R)
    while True:
        new = R + gamma * T @ q.max(axis=1)
        if np.abs(new - q).max() < 1e-12:
            return new.argmax(axis=1)
        q = new


def goal_probability(r, t, horizon):
    """From the start (state 0), within ``horizon`` steps, for the step ``r[s]``, ``t[s, s']`` (a policy's
    rows of R and T, or their mean over actions for random play)."""
    p = np.zeros(len(r))
    for _ in range(horizon):
        p = r + t @ p
    return p[0]


def policy_goal_probability(R, T, policy, horizon):
    states = np.arange(len(policy))
    return goal_probability(R[states, policy], T[states, policy], horizon)
