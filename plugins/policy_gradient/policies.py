"""What the policy-gradient agents share: an actor (categorical or Gaussian policy) and a critic,
numpy forward passes for acting and for values, the policy's log-probability and entropy, state,
saving and loading. Each algorithm adds its data kind and its update.

Discrete actions use a categorical policy; continuous ones a Gaussian with a learned,
state-independent log standard deviation (so the deviation stays positive), its samples clipped
to the action bounds on the way to the environment.
"""

import math

import numpy as np
from gymnasium import spaces

from advdl import Agent, CheckpointError, EnvSpaceError
from advdl.backend import import_tensorflow


def mlp_forward(layers, x, activation=np.tanh):
    for kernel, bias in layers[:-1]:
        x = activation(x @ kernel + bias)
    kernel, bias = layers[-1]
    return x @ kernel + bias


class PolicyGradientAgent(Agent):
    """Actor, critic and optimizer; subclasses define ``data`` and ``train_step``."""

    metric_names = ("loss", "policy_loss", "value_loss", "entropy")
    model_file = "model.keras"
    name = "policy gradient"

    def __init__(self, config, observation_space, action_space, *, seed, total_steps):
        super().__init__(config, observation_space, action_space, seed=seed, total_steps=total_steps)
        tf, keras = import_tensorflow(seed=seed)
        self.continuous = isinstance(action_space, spaces.Box)
        obs_dim = int(np.prod(observation_space.shape))
        n_out = int(np.prod(action_space.shape)) if self.continuous else int(action_space.n)
        self.actor = self._mlp(keras, obs_dim, n_out, 0.01, "actor")
        self.critic = self._mlp(keras, obs_dim, 1, 1.0, "critic")
        self.log_std = tf.Variable(np.full(n_out, config.log_std_init, np.float32), name="log_std")
        self.variables = [*self.actor.trainable_variables, *self.critic.trainable_variables]
        if self.continuous:
            self.variables.append(self.log_std)
        if config.optimizer == "rmsprop":
            self.optimizer = keras.optimizers.RMSprop(config.learning_rate, rho=0.99, epsilon=1e-5)
        else:
            self.optimizer = keras.optimizers.Adam(config.learning_rate)
        self.optimizer.build(self.variables)
        self._update = tf.function(self._update_graph, jit_compile=True)
        self.rng = np.random.default_rng(seed)
        self._refresh()

    def _mlp(self, keras, obs_dim, n_out, out_gain, name):
        hidden = keras.initializers.Orthogonal(math.sqrt(2))
        layers = [keras.Input((obs_dim,))]
        layers += [keras.layers.Dense(u, activation="tanh", kernel_initializer=hidden) for u in self.config.hidden_sizes]
        layers += [keras.layers.Dense(n_out, kernel_initializer=keras.initializers.Orthogonal(out_gain))]
        return keras.Sequential(layers, name=name)

    @classmethod
    def check_spaces(cls, observation_space, action_space):
        if not isinstance(observation_space, spaces.Box):
            raise EnvSpaceError(f"{cls.name} needs a Box observation space, got {observation_space}")
        if not isinstance(action_space, (spaces.Discrete, spaces.Box)) or (
                isinstance(action_space, spaces.Box) and len(action_space.shape) != 1):
            raise EnvSpaceError(f"{cls.name} needs a Discrete or a 1-d Box action space, got {action_space}")

    # -- acting (numpy) --------------------------------------------------------------------------
    def _refresh(self):
        def pairs(model):
            weights = [w.numpy() for w in model.weights]
            return list(zip(weights[0::2], weights[1::2]))

        self._actor, self._critic = pairs(self.actor), pairs(self.critic)
        self._log_std = self.log_std.numpy()

    def _flat(self, obs):
        return obs.reshape(len(obs), -1).astype(np.float32)

    def values(self, obs):
        return mlp_forward(self._critic, self._flat(obs))[:, 0]

    def act(self, obs, explore):
        out = mlp_forward(self._actor, self._flat(obs))
        if self.continuous:
            if not explore:
                return out
            return out + np.exp(self._log_std) * self.rng.standard_normal(out.shape).astype(np.float32)
        if not explore:
            return out.argmax(axis=1)
        probs = np.exp(out - out.max(axis=1, keepdims=True))
        cumulative = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
        return (cumulative < self.rng.random((len(out), 1))).sum(axis=1).clip(max=out.shape[1] - 1)

    def env_action(self, actions):
        if self.continuous:
            return np.clip(actions, self.action_space.low, self.action_space.high)
        return actions

    # -- learning --------------------------------------------------------------------------------
    def update(self, obs, actions, advantages, returns, pad=False):
        """One gradient step on flat arrays (rows = transitions); returns the metrics.

        ``pad`` pads the rows to the next power of two, masked out of the loss: episodes of every
        length then share a handful of compiled shapes instead of compiling one per length.
        """
        n = len(obs)
        size = 1 << (n - 1).bit_length() if pad else n
        mask = np.zeros(size, np.float32)
        mask[:n] = 1.0
        obs = self._flat(obs)
        actions = actions.reshape(n, -1).astype(np.float32) if self.continuous else actions.reshape(n).astype(np.int32)
        rows = [obs, actions, np.asarray(advantages, np.float32).reshape(-1), np.asarray(returns, np.float32).reshape(-1)]
        if size > n:
            rows = [np.concatenate([r, np.zeros((size - n, *r.shape[1:]), r.dtype)]) for r in rows]
        metrics = self._update(*rows, mask)
        self._refresh()
        return {k: float(v) for k, v in metrics.items()}

    def log_prob_and_entropy(self, obs, actions):
        """log pi(a|s) and the policy's entropy per row (TensorFlow, differentiable)."""
        import tensorflow as tf

        out = self.actor(obs)
        if self.continuous:
            log_std = self.log_std
            log_prob = tf.reduce_sum(-0.5 * tf.square((actions - out) / tf.exp(log_std)) - log_std
                                     - 0.5 * math.log(2 * math.pi), axis=1)
            entropy = tf.reduce_sum(log_std + 0.5 * (1.0 + math.log(2 * math.pi))) * tf.ones_like(log_prob)
            return log_prob, entropy
        log_probs = tf.nn.log_softmax(out)
        log_prob = tf.gather(log_probs, actions, axis=1, batch_dims=1)
        entropy = -tf.reduce_sum(tf.exp(log_probs) * log_probs, axis=1)
        return log_prob, entropy

    def _update_graph(self, obs, actions, advantages, returns, mask):
        import tensorflow as tf

        c = self.config
        count = tf.reduce_sum(mask)
        with tf.GradientTape() as tape:
            log_prob, entropy = self.log_prob_and_entropy(obs, actions)
            policy_loss = -tf.reduce_sum(mask * advantages * log_prob) / count
            entropy_mean = tf.reduce_sum(mask * entropy) / count
            value_loss = tf.reduce_sum(mask * tf.square(returns - self.critic(obs)[:, 0])) / count
            loss = policy_loss - c.ent_coef * entropy_mean + c.vf_coef * value_loss
        grads = tape.gradient(loss, self.variables)
        if c.max_grad_norm is not None:
            grads, _ = tf.clip_by_global_norm(grads, c.max_grad_norm)
        self.optimizer.apply(grads, self.variables)
        return {"loss": loss, "policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy_mean}

    # -- state -----------------------------------------------------------------------------------
    def get_state(self):
        return {"actor": self.actor.get_weights(), "critic": self.critic.get_weights(),
                "log_std": self.log_std.numpy(), "optimizer": [v.numpy() for v in self.optimizer.variables],
                "rng": self.rng.bit_generator.state}

    def set_state(self, state):
        self.actor.set_weights(state["actor"])
        self.critic.set_weights(state["critic"])
        self.log_std.assign(state["log_std"])
        for variable, value in zip(self.optimizer.variables, state["optimizer"]):
            variable.assign(value)
        self.rng.bit_generator.state = state["rng"]
        self._refresh()

    def save_model(self, path):
        """Actor and critic as one two-output Keras model; a Gaussian's log std in ``<path>.log_std.npy``."""
        import keras

        inputs = keras.Input(self.actor.input_shape[1:])
        model = keras.Model(inputs, [self.actor(inputs), self.critic(inputs)], name="a2c")
        model.save(path)
        np.save(str(path) + ".log_std.npy", self.log_std.numpy())

    def load_model(self, path):
        import keras

        try:
            model = keras.models.load_model(path, compile=False)
            weights = model.get_weights()
            n_actor = len(self.actor.get_weights())
            self.actor.set_weights(weights[:n_actor])
            self.critic.set_weights(weights[n_actor:])
            if self.continuous:
                self.log_std.assign(np.load(str(path) + ".log_std.npy"))
        except Exception as exc:
            raise CheckpointError(f"cannot load model {path}: {type(exc).__name__}: {str(exc)[:200]}") from None
        self._refresh()
