"""DQN and Double DQN: the TD targets, the numpy acting path, and real learning on CartPole."""

import numpy as np
import pytest

from advdl.api.interfaces import ReplayBatch
from advdl.testing import run_algorithm


def make_agent(double, **overrides):
    import gymnasium as gym
    from advdl_plugins.dqn import DQNConfig
    from advdl_plugins.dqn.agent import DQNAgent

    env = gym.make("CartPole-v1")
    settings = dict(double=double, hidden_sizes=(32, 32), gradient_steps=1, batch_size=16, learning_rate=1e-3,
                    target_update_interval=1000)
    config = DQNConfig(**{**settings, **overrides})
    return DQNAgent(config, env.observation_space, env.action_space, seed=3, total_steps=1000)


def random_batch(rng, k=1, b=16):
    return ReplayBatch(rng.normal(size=(k, b, 4)).astype(np.float32), rng.integers(0, 2, (k, b)),
                       rng.normal(size=(k, b)).astype(np.float32), rng.normal(size=(k, b, 4)).astype(np.float32),
                       (rng.random((k, b)) < 0.2).astype(np.float32))


@pytest.mark.parametrize("double", [False, True])
def test_td_target_and_loss_match_a_numpy_reference(double):
    agent = make_agent(double, loss="mse")
    rng = np.random.default_rng(0)
    # make the target network differ from the online one, so the two targets differ
    agent.target.set_weights([w + rng.normal(scale=0.3, size=w.shape).astype(np.float32)
                              for w in agent.target.get_weights()])
    batch = random_batch(rng)
    obs, actions, rewards, next_obs, done = (x[0] for x in batch)
    online_next = agent.q(next_obs).numpy()
    target_next = agent.target(next_obs).numpy()
    if double:
        next_value = target_next[np.arange(16), online_next.argmax(1)]
    else:
        next_value = target_next.max(1)
    target = rewards + agent.config.gamma * (1 - done) * next_value
    q_taken = agent.q(obs).numpy()[np.arange(16), actions]
    expected = np.mean((target - q_taken) ** 2)
    assert agent.train_step(batch)["loss"] == pytest.approx(expected, rel=1e-4)


def test_double_and_plain_targets_differ_on_the_same_data():
    batch = random_batch(np.random.default_rng(1))
    losses = []
    for double in (False, True):
        agent = make_agent(double)
        noise = np.random.default_rng(5)
        agent.target.set_weights([w + noise.normal(scale=0.3, size=w.shape).astype(np.float32)
                                  for w in agent.target.get_weights()])
        losses.append(agent.train_step(batch)["loss"])
    assert losses[0] != pytest.approx(losses[1])


def test_numpy_policy_matches_the_keras_network_after_training():
    agent = make_agent(False)
    rng = np.random.default_rng(2)
    agent.train_step(random_batch(rng, k=4))
    obs = rng.normal(size=(50, 4)).astype(np.float32)
    np.testing.assert_allclose(agent.q_values(obs), agent.q(obs).numpy(), rtol=1e-4, atol=1e-5)
    assert (agent.act(obs, explore=False) == agent.q(obs).numpy().argmax(1)).all()


def test_fused_rounds_run_every_gradient_step_and_copy_the_target():
    agent = make_agent(False, target_update_interval=4)
    rng = np.random.default_rng(4)
    before = agent.target.get_weights()[0].copy()
    agent.train_step(random_batch(rng, k=3))
    assert int(agent.updates.numpy()) == 3
    np.testing.assert_array_equal(agent.target.get_weights()[0], before)  # no copy yet
    agent.train_step(random_batch(rng, k=3))
    assert int(agent.updates.numpy()) == 6
    assert not np.array_equal(agent.target.get_weights()[0], before)  # copied at update 4


def test_epsilon_schedules():
    agent = make_agent(False, exploration_fraction=0.5, exploration_final_eps=0.1)
    agent.on_step(0, 0)
    assert agent.epsilon == pytest.approx(1.0)
    agent.on_step(250, 3)
    assert agent.epsilon == pytest.approx(0.55)
    agent.on_step(900, 9)
    assert agent.epsilon == pytest.approx(0.1)
    book = make_agent(False, exploration_decay_episodes=500, exploration_final_eps=0.1)
    book.on_step(10, 250)
    assert book.epsilon == pytest.approx(0.1 ** 0.5)
    book.on_step(10, 800)
    assert book.epsilon == pytest.approx(0.1)


@pytest.mark.slow  # a learning or multi-process run: the default suite stays under 8 minutes
def test_dqn_default_preset_solves_cartpole(tmp_path):
    """The default CartPole-v1 preset: deterministic evaluation >= 475 within 50,000 steps."""
    summary = run_algorithm("dqn", "CartPole-v1", tmp_path)
    assert summary["env_steps"] == 50_000
    assert summary["eval"]["mean"] >= 475
    assert summary["first_eval_at_threshold"] is not None
    # the saved model evaluates to the reported number; a damaged one is a clear error
    from advdl.api.errors import CheckpointError
    from advdl.loading.manager import get_registry
    from advdl.runs.start import evaluate_run

    final = {k: v for k, v in summary["eval"].items() if k != "returns"}  # the summary also keeps each return
    assert evaluate_run(tmp_path, get_registry(), 20) == final
    (tmp_path / "model.keras").write_bytes(b"not a keras file")
    with pytest.raises(CheckpointError, match="model.keras"):
        evaluate_run(tmp_path, get_registry(), 1)


@pytest.mark.slow  # a learning or multi-process run: the default suite stays under 8 minutes
def test_ddqn_default_preset_solves_cartpole(tmp_path):
    summary = run_algorithm("ddqn", "CartPole-v1", tmp_path)
    assert summary["eval"]["mean"] >= 475
    assert summary["kept_best"]["eval_mean"] >= 475


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["dqn", "ddqn"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_preset_solves_cartpole_on_every_seed(tmp_path, algorithm, seed):
    summary = run_algorithm(algorithm, "CartPole-v1", tmp_path, seed=seed)
    assert summary["eval"]["mean"] >= 475


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["dqn", "ddqn"])
def test_book_preset_solves_cartpole_v0_by_the_books_criterion(tmp_path, algorithm):
    summary = run_algorithm(algorithm, "CartPole-v0", tmp_path, preset="book")
    assert summary["episodes_to_solve"] is not None
