"""DQN and Double DQN (Mnih et al. 2015; van Hasselt et al. 2016), the book's chapter 9.

Observations of every standard space are encoded as SB3 does (``advdl.api.ObservationEncoder``:
one-hot, flattened, or an image through a CNN torso).

Speed: acting uses a numpy copy of the Q-network (refreshed after each training round), so an
env step costs no TensorFlow call (a CNN torso acts through one compiled call instead); a training
round runs all its ``gradient_steps`` minibatches in one XLA-compiled call.
"""

import numpy as np
from gymnasium import spaces

from advdl.api import (
    Agent,
    CheckpointError,
    EnvSpaceError,
    ExportPart,
    ObservationEncoder,
    ReplaySchedule,
    argmax,
    check_networks,
    import_tensorflow,
    jit_compile,
    mlp_parameters,
    torso_layers,
    torso_parameters,
)


def build_q_network(encoder, n_actions, hidden_sizes, name):
    _, keras = import_tensorflow()

    layers = [keras.Input(encoder.shape), *torso_layers(keras, encoder)]
    layers += [keras.layers.Dense(units, activation="relu") for units in hidden_sizes]
    layers += [keras.layers.Dense(n_actions)]
    return keras.Sequential(layers, name=name)


def global_norm(tensors):
    """The global L2 norm of a list of tensors (for clipping, as SB3's max_grad_norm).

    XLA on CPU reduces a large matrix to a scalar with a scalar loop (about 40 us for a 256x256
    gradient, 15% of a gradient step); summing its squared rows with a matrix-vector product is
    vectorised and gives the same value.
    """
    import tensorflow as tf

    squares = []
    for t in tensors:
        if len(t.shape) == 2:
            squares.append(tf.reduce_sum(tf.linalg.matvec(t * t, tf.ones([t.shape[1]], t.dtype))))
        else:
            squares.append(tf.reduce_sum(t * t))
    return tf.sqrt(tf.add_n(squares))


class DQNAgent(Agent):
    data = "replay"
    metric_names = ("loss", "q_mean", "epsilon", "learning_rate")
    model_file = "model.keras"
    flat_observations = True

    def __init__(self, config, observation_space, action_space, *, seed, total_steps):
        super().__init__(config, observation_space, action_space, seed=seed, total_steps=total_steps)
        self.encoder = ObservationEncoder(observation_space)
        self.check_memory(config, observation_space, action_space)
        tf, keras = import_tensorflow(seed=seed)
        self.q = build_q_network(self.encoder, int(action_space.n), config.hidden_sizes, "q")
        self.target = build_q_network(self.encoder, int(action_space.n), config.hidden_sizes, "q_target")
        self.target.set_weights(self.q.get_weights())
        # gradient clipping is done by global norm in _train_rounds (Keras' clipnorm is per variable)
        self.optimizer = keras.optimizers.Adam(config.learning_rate)
        self.optimizer.build(self.q.trainable_variables)
        self.updates = tf.Variable(0, dtype=tf.int64, trainable=False)
        # XLA's CPU convolutions ran 3x slower than TensorFlow's own kernels: a CNN torso trains unfused
        self._fused_train = tf.function(  # XLA per device: its CPU convolutions are slow
            self._train_rounds, jit_compile=jit_compile("rl_cnn_update" if self.encoder.image else "rl_update"))
        # acting through a CNN: XLA halves a small image's forward pass (and ties the Nature CNN's)
        self._q_graph = tf.function(self.q, jit_compile=True, reduce_retracing=True) if self.encoder.image else None
        self.rng = np.random.default_rng(seed)
        self.epsilon = config.exploration_initial_eps
        self._refresh_policy()

    @staticmethod
    def check_memory(c, observation_space, action_space):
        """Before TensorFlow starts: the networks (online, target, Adam's two slots, the numpy copy acting
        uses) must fit in memory (the Trainer checks the replay buffer and its samples)."""
        torso, features = torso_parameters(ObservationEncoder(observation_space))
        sizes = [features, *c.hidden_sizes, int(action_space.n)]
        check_networks(torso + mlp_parameters(sizes), 5, f"Q-networks of hidden_sizes {list(c.hidden_sizes)}",
                       "; use smaller hidden_sizes")

    @classmethod
    def check_spaces(cls, observation_space, action_space):
        if not isinstance(action_space, spaces.Discrete):
            raise EnvSpaceError(f"DQN needs a discrete action space, got {action_space}")
        torso_parameters(ObservationEncoder(observation_space))  # an unsupported space or a too small image

    def replay_schedule(self):
        c = self.config
        return ReplaySchedule(c.buffer_size, c.batch_size, c.learning_starts, c.train_freq,
                              c.gradient_steps, per_episode=c.train_freq_unit == "episode")

    # -- acting: numpy forward pass, no TensorFlow call per env step ------------------------------
    def _refresh_policy(self):
        if self.encoder.image:  # a CNN acts through TensorFlow
            return
        weights = [w.numpy() for w in self.q.weights]
        self._layers = list(zip(weights[0::2], weights[1::2]))

    def q_values(self, obs):
        x = self.encoder(obs)
        if self.encoder.image:
            return self._q_graph(x).numpy()
        for kernel, bias in self._layers[:-1]:
            x = np.maximum(x @ kernel + bias, 0.0)
        kernel, bias = self._layers[-1]
        return x @ kernel + bias

    def act(self, obs, explore):
        greedy = self.q_values(obs).argmax(axis=1)
        if not explore:
            return greedy
        random_mask = self.rng.random(len(greedy)) < self.epsilon
        return np.where(random_mask, self.rng.integers(0, self.action_space.n, len(greedy)), greedy)

    def on_step(self, env_steps, episodes):
        c = self.config
        if c.exploration_decay_episodes:
            decay = (c.exploration_final_eps / max(c.exploration_initial_eps, 1e-12)) ** (
                1.0 / c.exploration_decay_episodes)
            self.epsilon = max(c.exploration_final_eps, c.exploration_initial_eps * decay ** episodes)
        else:
            progress = min(1.0, env_steps / (c.exploration_fraction * self.total_steps))
            self.epsilon = c.exploration_initial_eps + progress * (c.exploration_final_eps - c.exploration_initial_eps)
        self._env_steps = env_steps

    # -- learning ------------------------------------------------------------------------------
    def train_step(self, batch):
        c = self.config
        learning_rate = c.learning_rate
        if c.learning_rate_end is not None:
            progress = min(1.0, getattr(self, "_env_steps", 0) / self.total_steps)
            learning_rate = c.learning_rate + progress * (c.learning_rate_end - c.learning_rate)
            self.optimizer.learning_rate.assign(learning_rate)
        k, shape = len(batch.rewards), (len(batch.rewards), c.batch_size, *self.encoder.shape)
        obs = self.encoder(batch.obs.reshape(k * c.batch_size, *batch.obs.shape[2:])).reshape(shape)
        next_obs = self.encoder(batch.next_obs.reshape(k * c.batch_size, *batch.obs.shape[2:])).reshape(shape)
        loss, q_mean = self._fused_train(obs, batch.actions.astype(np.int32), batch.rewards, next_obs,
                                         batch.terminated)
        self._refresh_policy()
        return {"loss": float(loss), "q_mean": float(q_mean), "epsilon": self.epsilon,
                "learning_rate": learning_rate}

    def _train_rounds(self, obs, actions, rewards, next_obs, terminated):
        import tensorflow as tf

        c = self.config
        loss_sum, q_sum = tf.constant(0.0), tf.constant(0.0)
        for k in tf.range(tf.shape(obs)[0]):
            target_q = self.target(next_obs[k])
            if c.double:
                best = tf.argmax(self.q(next_obs[k]), axis=1, output_type=tf.int32)
                next_value = tf.gather(target_q, best, axis=1, batch_dims=1)
            else:
                next_value = tf.reduce_max(target_q, axis=1)
            target = rewards[k] + c.gamma * (1.0 - terminated[k]) * next_value
            with tf.GradientTape() as tape:
                q_taken = tf.gather(self.q(obs[k]), actions[k], axis=1, batch_dims=1)
                error = target - q_taken
                if c.loss == "huber":
                    abs_error = tf.abs(error)
                    loss = tf.reduce_mean(tf.where(abs_error < 1.0, 0.5 * error ** 2, abs_error - 0.5))
                else:
                    loss = tf.reduce_mean(error ** 2)
            grads = tape.gradient(loss, self.q.trainable_variables)
            if c.max_grad_norm is not None:
                scale = tf.minimum(1.0, c.max_grad_norm / tf.maximum(global_norm(grads), 1e-12))
                grads = [g * scale for g in grads]
            self.optimizer.apply(grads, self.q.trainable_variables)
            self.updates.assign_add(1)
            if self.updates % c.target_update_interval == 0:
                for target_var, var in zip(self.target.trainable_variables, self.q.trainable_variables):
                    target_var.assign(var)
            loss_sum += loss
            q_sum += tf.reduce_mean(q_taken)
        n = tf.cast(tf.shape(obs)[0], tf.float32)
        return loss_sum / n, q_sum / n

    # -- state ---------------------------------------------------------------------------------
    def get_state(self):
        return {"q": self.q.get_weights(), "target": self.target.get_weights(),
                "optimizer": [v.numpy() for v in self.optimizer.variables],
                "updates": int(self.updates.numpy()), "rng": self.rng.bit_generator.state,
                "epsilon": self.epsilon, "env_steps": getattr(self, "_env_steps", 0)}

    def set_state(self, state):
        self.q.set_weights(state["q"])
        self.target.set_weights(state["target"])
        for variable, value in zip(self.optimizer.variables, state["optimizer"]):
            variable.assign(value)
        self.updates.assign(state["updates"])
        self.rng.bit_generator.state = state["rng"]
        self.epsilon, self._env_steps = state["epsilon"], state["env_steps"]
        self._refresh_policy()

    def export_parts(self, observations):
        """The greedy policy: raw observation -> its encoding -> Q-network -> argmax."""
        import keras

        obs, x = self.encoder.keras_input(keras)
        return {"policy": ExportPart(keras.Model(obs, argmax(keras, self.q(x)), name="policy"),
                                     (observations,))}

    def save_model(self, path):
        self.q.save(path)

    def load_model(self, path):
        import keras

        try:
            model = keras.models.load_model(path, compile=False, safe_mode=True)
            self.q.set_weights(model.get_weights())
        except Exception as exc:
            raise CheckpointError(f"cannot load model {path}: {type(exc).__name__}: {str(exc)[:200]}") from None
        self._refresh_policy()
