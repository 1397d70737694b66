"""What the policy-gradient agents share: an actor (categorical or Gaussian policy) and a critic,
numpy forward passes for acting and for values, the policy's log-probability and entropy, state,
saving and loading. Each algorithm adds its data kind and its update.

Discrete actions use a categorical policy; continuous ones a Gaussian with a learned log standard
deviation (so the deviation stays positive), its samples clipped to the action bounds on the way
to the environment. The Gaussian's noise is either drawn afresh every step with a
state-independent deviation, or, with ``sde``, generated as phi(s) W: the actor's last hidden
features times a random matrix W ~ N(0, exp(log_std)^2) held for several steps, so exploration is
smooth in time and the per-state deviation is sqrt(phi(s)^2 . exp(log_std)^2).

Discrete actions use a categorical policy; MultiDiscrete ones one categorical per dimension and
MultiBinary ones one of two values per bit (their log-probabilities summed).

Observations of every standard space are encoded as SB3 does (``advdl.api.ObservationEncoder``:
one-hot, flattened, or an image through a CNN torso in each network), then pass through optional
preprocessing before both networks: the book's frozen autoencoder state encoder, then a running
mean/std normalisation. Acting is a numpy forward pass except with a CNN torso (one compiled call).
"""

import math

import numpy as np
from gymnasium import spaces

from advdl.api import (
    Agent,
    CheckpointError,
    EnvSpaceError,
    ExportPart,
    ObservationEncoder,
    argmax,
    check_networks,
    import_tensorflow,
    jit_compile,
    mlp_parameters,
    rmsprop,
    torso_layers,
    torso_parameters,
)

ENCODER_SIZES = (256, 128, 32)  # the book's state encoder
ENCODER_SAMPLES, ENCODER_EPOCHS = 20_000, 10
SDE_EPSILON = 1e-6  # added to the SDE variance, as SB3
METRICS = ("loss", "policy_loss", "value_loss", "entropy")
RMSPROP = {"rho": 0.99, "epsilon": 1e-5}  # SB3's A2C (PyTorch's RMSprop)


def mlp_forward(layers, x, activation=np.tanh):
    """(last hidden features, output) of a dense network given as [(kernel, bias), ...]."""
    for kernel, bias in layers[:-1]:
        x = activation(x @ kernel + bias)
    kernel, bias = layers[-1]
    return x, x @ kernel + bias


def categories(action_space):
    """(the number of choices of each categorical dimension, the value of each's first), or None for a Box."""
    if isinstance(action_space, spaces.Discrete):
        return np.array([action_space.n]), np.array([action_space.start])
    if isinstance(action_space, spaces.MultiDiscrete):
        return action_space.nvec.reshape(-1), action_space.start.reshape(-1)
    if isinstance(action_space, spaces.MultiBinary):
        n = int(np.prod(action_space.shape))
        return np.full(n, 2), np.zeros(n, np.int64)
    return None


def dense_pairs(model):
    return [(layer.kernel.numpy(), layer.bias.numpy()) for layer in model.layers if hasattr(layer, "kernel")]


class RunningMeanStd:
    """Mean and variance of every observation seen while exploring (Chan et al.'s parallel update)."""

    def __init__(self, dim):
        self.mean, self.var, self.count = np.zeros(dim), np.ones(dim), 1e-4

    def update(self, x):
        batch_mean, batch_var, n = x.mean(axis=0), x.var(axis=0), len(x)
        delta, total = batch_mean - self.mean, self.count + n
        self.mean = self.mean + delta * n / total
        self.var = (self.var * self.count + batch_var * n + delta**2 * self.count * n / total) / total
        self.count = total

    def normalize(self, x):
        # keras.layers.Normalization's formula, so the saved model computes the same
        return ((x - self.mean) / np.maximum(np.sqrt(self.var), 1e-7)).astype(np.float32)


class PolicyGradientAgent(Agent):
    """Actor, critic and optimizer; subclasses define ``data`` and ``train_step``."""

    metric_names = METRICS
    model_file = "model.keras"
    name = "policy gradient"
    flat_observations = True

    def __init__(self, config, observation_space, action_space, *, seed, total_steps):
        super().__init__(config, observation_space, action_space, seed=seed, total_steps=total_steps)
        self.check_memory(config, observation_space, action_space)
        tf, keras = import_tensorflow(seed=seed)
        self.continuous = isinstance(action_space, spaces.Box)
        self.sde = config.sde and self.continuous
        self.rng = np.random.default_rng(seed)
        self.obs_encoder = ObservationEncoder(observation_space)
        self.image = self.obs_encoder.image
        if self.image and (config.normalize_obs or config.state_encoder != "none"):
            raise EnvSpaceError(f"{self.name} on image observations: normalize_obs and state_encoder are for vector "
                                f"observations (images are scaled to [0, 1] for the CNN torso)")
        self.encoder = self._train_encoder(keras, observation_space) if config.state_encoder == "autoencoder" else None
        self._encoder = dense_pairs(self.encoder) if self.encoder is not None else None  # frozen: copied once
        input_dim = ENCODER_SIZES[-1] if self.encoder is not None else self.obs_encoder.size
        self.input_shape = self.obs_encoder.shape if self.image else (input_dim,)
        self.obs_rms = RunningMeanStd(input_dim) if config.normalize_obs else None
        self.categories = categories(action_space)
        n_out = int(np.prod(action_space.shape)) if self.continuous else int(self.categories[0].sum())
        self.actor = self._mlp(keras, n_out, 0.01, "actor")
        self.critic = self._mlp(keras, 1, 1.0, "critic")
        std_shape = (config.hidden_sizes[-1], n_out) if self.sde else (n_out,)
        self.log_std = tf.Variable(np.full(std_shape, config.log_std_init, np.float32), name="log_std")
        self.variables = [*self.actor.trainable_variables, *self.critic.trainable_variables]
        if self.continuous:
            self.variables.append(self.log_std)
        if config.optimizer == "rmsprop":
            self.optimizer = rmsprop(keras, config.learning_rate, **RMSPROP)
        else:
            self.optimizer = keras.optimizers.Adam(config.learning_rate)
        self.optimizer.build(self.variables)
        # acting copies every weight to numpy, but for a CNN torso, which acts through TensorFlow
        self._acting_weights = [self.log_std] if self.image else [*self.actor.weights, *self.critic.weights,
                                                                   self.log_std]
        if self.image:
            # XLA halves a small image's forward pass (and ties the Nature CNN's)
            self._actor_graph = tf.function(self._actor_features, jit_compile=True, reduce_retracing=True)
            self._critic_graph = tf.function(self.critic, jit_compile=True, reduce_retracing=True)
        self._weight_shapes = [tuple(w.shape) for w in self._acting_weights]
        self._weight_splits = np.cumsum([int(np.prod(shape)) for shape in self._weight_shapes])[:-1]
        self._update = tf.function(  # XLA per device: its CPU convolutions are slow
            self._update_graph, jit_compile=jit_compile("rl_cnn_update" if self.image else "rl_update"))
        self._compiled = {}  # rows -> concrete function: calling it skips tf.function's dispatch
        self.sde_noise, self.sde_steps = None, 0
        self.env_steps = 0
        self._refresh()

    @staticmethod
    def check_memory(c, observation_space, action_space):
        """Before TensorFlow starts: the actor and the critic (their weights, two optimizer slots and the
        numpy copies acting uses) must fit in memory."""
        torso, inputs = torso_parameters(ObservationEncoder(observation_space))
        if c.state_encoder == "autoencoder":
            inputs = ENCODER_SIZES[-1]
        choices = categories(action_space)
        outputs = int(np.prod(action_space.shape)) if choices is None else int(choices[0].sum())
        weights = (2 * torso + mlp_parameters([inputs, *c.hidden_sizes, outputs])
                   + mlp_parameters([inputs, *c.hidden_sizes, 1]))
        check_networks(weights, 4, f"an actor and a critic of hidden_sizes {list(c.hidden_sizes)}",
                       "; use smaller hidden_sizes")

    def _mlp(self, keras, n_out, out_gain, name):
        hidden = keras.initializers.Orthogonal(math.sqrt(2))
        layers = [keras.Input(self.input_shape), *torso_layers(keras, self.obs_encoder)]
        layers += [keras.layers.Dense(u, activation="tanh", kernel_initializer=hidden) for u in self.config.hidden_sizes]
        layers += [keras.layers.Dense(n_out, kernel_initializer=keras.initializers.Orthogonal(out_gain))]
        return keras.Sequential(layers, name=name)

    def _train_encoder(self, keras, observation_space):
        """The book's state encoder: an autoencoder fitted to uniformly drawn states, then frozen."""
        if not isinstance(observation_space, spaces.Box):
            raise EnvSpaceError(f"state_encoder=autoencoder draws states from a Box observation space's bounds, "
                                f"got {observation_space}; use state_encoder=none")
        low, high = observation_space.low.reshape(-1), observation_space.high.reshape(-1)
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise EnvSpaceError(f"state_encoder=autoencoder draws states from the observation space's bounds, "
                                f"but {observation_space} is unbounded; use state_encoder=none")
        self._encoder_scale = ((low + high) / 2, (high - low) / 2)
        states = self.rng.uniform(low, high, (ENCODER_SAMPLES, len(low))).astype(np.float32)
        center, half_range = self._encoder_scale
        scale = keras.layers.Normalization(mean=center, variance=half_range**2)
        encoder = keras.Sequential([keras.Input((len(low),)), scale]
                                   + [keras.layers.Dense(u, activation="relu") for u in ENCODER_SIZES[:-1]]
                                   + [keras.layers.Dense(ENCODER_SIZES[-1])], name="encoder")
        decoder = keras.Sequential([keras.Input((ENCODER_SIZES[-1],))]
                                   + [keras.layers.Dense(u, activation="relu") for u in ENCODER_SIZES[-2::-1]]
                                   + [keras.layers.Dense(len(low))], name="decoder")
        inputs = keras.Input((len(low),))
        autoencoder = keras.Model(inputs, decoder(encoder(inputs)))
        autoencoder.compile(keras.optimizers.Adam(1e-3), "mse")
        # the reconstruction target is the scaled state, so every dimension counts alike
        history = autoencoder.fit(states, scale(states), batch_size=128, epochs=ENCODER_EPOCHS, verbose=0, shuffle=True)
        self.encoder_mse = float(history.history["loss"][-1])
        encoder.trainable = False
        return encoder

    @classmethod
    def check_spaces(cls, observation_space, action_space):
        torso_parameters(ObservationEncoder(observation_space))  # an unsupported space or a too small image
        if not isinstance(action_space, (spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary, spaces.Box)) or (
                isinstance(action_space, spaces.Box) and len(action_space.shape) != 1):
            raise EnvSpaceError(f"{cls.name} needs a Discrete, MultiDiscrete, MultiBinary or 1-d Box action space, "
                                f"got {action_space}")

    # -- acting (numpy) --------------------------------------------------------------------------
    def _refresh(self, flat=None):
        """Numpy copies of the weights for acting; ``flat`` is the update's output, all of them in one array."""
        if flat is None:
            arrays = [w.numpy() for w in self._acting_weights]
        else:
            arrays = [a.reshape(shape) for a, shape in zip(np.split(flat, self._weight_splits), self._weight_shapes)]
        self._std = np.exp(arrays[-1])
        if self.image:
            return
        n_actor = len(self.actor.weights)
        self._actor = list(zip(arrays[0:n_actor:2], arrays[1:n_actor:2]))
        self._critic = list(zip(arrays[n_actor:-1:2], arrays[n_actor + 1:-1:2]))

    def inputs(self, obs, update_stats=False):
        """What the networks see: encoded observations, through the state encoder and normalised as configured."""
        x = self.obs_encoder(obs)
        if self.encoder is not None:
            center, half_range = self._encoder_scale
            x = mlp_forward(self._encoder, (x - center) / half_range, activation=lambda v: np.maximum(v, 0))[1]
        if self.obs_rms is not None:
            if update_stats:
                self.obs_rms.update(x)
            x = self.obs_rms.normalize(x)
        return x.astype(np.float32)

    def _actor_features(self, inputs):
        features = inputs
        for layer in self.actor.layers[:-1]:
            features = layer(features)
        return features, self.actor.layers[-1](features)

    def values(self, obs):
        if self.image:
            return self._critic_graph(self.inputs(obs)).numpy()[:, 0]
        return mlp_forward(self._critic, self.inputs(obs))[1][:, 0]

    def act(self, obs, explore):
        inputs = self.inputs(obs, update_stats=explore)
        if self.image:
            features, out = (t.numpy() for t in self._actor_graph(inputs))
        else:
            features, out = mlp_forward(self._actor, inputs)
        if self.continuous:
            if not explore:
                return out
            if self.sde:
                return out + np.einsum("bh,bha->ba", features, self._sde_matrices(len(out)))
            return out + self._std * self.rng.standard_normal(out.shape).astype(np.float32)
        sizes, starts = self.categories
        choices = [self._choose(logits, explore) for logits in np.split(out, np.cumsum(sizes)[:-1], axis=1)]
        if isinstance(self.action_space, spaces.Discrete):
            return choices[0] + starts[0]
        return (np.stack(choices, axis=1) + starts).astype(self.action_space.dtype)

    def _choose(self, logits, explore):
        if not explore:
            return logits.argmax(axis=1)
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        cumulative = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
        return (cumulative < self.rng.random((len(logits), 1))).sum(axis=1).clip(max=logits.shape[1] - 1)

    def _sde_matrices(self, n_envs):
        """One noise matrix per environment, redrawn every sde_sample_freq steps (or after an update)."""
        freq = self.config.sde_sample_freq
        if self.sde_noise is None or len(self.sde_noise) != n_envs or (freq > 0 and self.sde_steps % freq == 0):
            self.sde_noise = (self._std * self.rng.standard_normal((n_envs, *self._std.shape))).astype(np.float32)
        self.sde_steps += 1
        return self.sde_noise

    def on_step(self, env_steps, episodes):
        self.env_steps = env_steps

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
        if self.continuous:
            actions = actions.reshape(n, -1).astype(np.float32)
        else:  # indices from 0 in each dimension
            actions = (actions.reshape(n, -1).astype(np.int64) - self.categories[1]).astype(np.int32)
        rows = [self.inputs(obs), actions, np.asarray(advantages, np.float32).reshape(-1),
                np.asarray(returns, np.float32).reshape(-1)]
        if size > n:
            rows = [np.concatenate([r, np.zeros((size - n, *r.shape[1:]), r.dtype)]) for r in rows]
        rows.append(mask)
        if self.config.learning_rate_end is not None:
            progress = min(1.0, self.env_steps / self.total_steps)
            c = self.config
            self.optimizer.learning_rate.assign(c.learning_rate + progress * (c.learning_rate_end - c.learning_rate))
        if size not in self._compiled:
            import tensorflow as tf

            self._compiled[size] = self._update.get_concrete_function(*(tf.TensorSpec(r.shape, r.dtype) for r in rows))
        out = self._compiled[size](*rows).numpy()
        self._refresh(out[len(METRICS):])
        if self.sde and self.config.sde_sample_freq == -1:
            self.sde_noise = None
        return dict(zip(METRICS, out[:len(METRICS)].tolist()))

    def log_prob_and_entropy(self, inputs, actions):
        """log pi(a|s) and the policy's entropy per row (TensorFlow, differentiable)."""
        import tensorflow as tf

        if not self.continuous:
            log_prob, entropy = 0.0, 0.0
            sizes = [int(n) for n in self.categories[0]]
            actions = tf.reshape(actions, [-1, len(sizes)])
            for j, logits in enumerate(tf.split(self.actor(inputs), sizes, axis=1)):
                log_probs = tf.nn.log_softmax(logits)
                log_prob += tf.gather(log_probs, actions[:, j], axis=1, batch_dims=1)
                entropy -= tf.reduce_sum(tf.exp(log_probs) * log_probs, axis=1)
            return log_prob, entropy
        features, mean = self._actor_features(inputs)
        if self.sde:  # the features only shape the noise: no gradient through them (SB3's default)
            variance = tf.square(tf.stop_gradient(features)) @ tf.exp(2.0 * self.log_std)
            log_std = 0.5 * tf.math.log(variance + SDE_EPSILON)
        else:
            log_std = self.log_std * tf.ones_like(mean)
        log_prob = tf.reduce_sum(-0.5 * tf.square((actions - mean) / tf.exp(log_std)) - log_std
                                 - 0.5 * math.log(2 * math.pi), axis=1)
        entropy = tf.reduce_sum(log_std + 0.5 * (1.0 + math.log(2 * math.pi)), axis=1)
        return log_prob, entropy

    def _update_graph(self, inputs, actions, advantages, returns, mask):
        import tensorflow as tf

        c = self.config
        count = tf.reduce_sum(mask)
        with tf.GradientTape() as tape:
            log_prob, entropy = self.log_prob_and_entropy(inputs, actions)
            policy_loss = -tf.reduce_sum(mask * advantages * log_prob) / count
            entropy_mean = tf.reduce_sum(mask * entropy) / count
            value_loss = tf.reduce_sum(mask * tf.square(returns - self.critic(inputs)[:, 0])) / count
            loss = policy_loss - c.ent_coef * entropy_mean + c.vf_coef * value_loss
        grads = tape.gradient(loss, self.variables)
        if c.max_grad_norm is not None:
            grads, _ = tf.clip_by_global_norm(grads, c.max_grad_norm)
        self.optimizer.apply(grads, self.variables)
        # one output tensor (metrics, then every weight used for acting): one transfer per update
        return tf.concat([tf.stack([loss, policy_loss, value_loss, entropy_mean]),
                          *(tf.reshape(w, [-1]) for w in self._acting_weights)], axis=0)

    # -- state -----------------------------------------------------------------------------------
    def get_state(self):
        return {"actor": self.actor.get_weights(), "critic": self.critic.get_weights(),
                "log_std": self.log_std.numpy(), "optimizer": [v.numpy() for v in self.optimizer.variables],
                "rng": self.rng.bit_generator.state,
                "encoder": self.encoder.get_weights() if self.encoder is not None else None,
                "obs_rms": vars(self.obs_rms).copy() if self.obs_rms is not None else None,
                "sde_noise": self.sde_noise, "sde_steps": self.sde_steps}

    def set_state(self, state):
        self.actor.set_weights(state["actor"])
        self.critic.set_weights(state["critic"])
        self.log_std.assign(state["log_std"])
        for variable, value in zip(self.optimizer.variables, state["optimizer"]):
            variable.assign(value)
        self.rng.bit_generator.state = state["rng"]
        if self.encoder is not None:
            self.encoder.set_weights(state["encoder"])
            self._encoder = dense_pairs(self.encoder)
        if self.obs_rms is not None:
            vars(self.obs_rms).update(state["obs_rms"])
        self.sde_noise, self.sde_steps = state["sde_noise"], state["sde_steps"]
        self._refresh()

    def export_parts(self, observations):
        """The deterministic policy: raw observation -> encoding (state encoder, normalisation) -> actor ->
        the mean clipped to the action bounds, or each categorical dimension's argmax."""
        import keras

        ops = keras.ops

        def normalized(x, mean, var):  # Normalization's formula with constants (tf2onnx makes its weights inputs)
            std = np.maximum(np.sqrt(np.asarray(var, np.float64)), 1e-7)
            return (x - np.asarray(mean, np.float32)) / std.astype(np.float32)

        obs, x = self.obs_encoder.keras_input(keras)
        if self.encoder is not None:
            center, half_range = self._encoder_scale
            x = normalized(x, center, half_range**2)
            for layer in self.encoder.layers[1:]:
                x = layer(x)
        if self.obs_rms is not None:
            x = normalized(x, self.obs_rms.mean, self.obs_rms.var)
        out = self.actor(x)
        if self.continuous:
            space = self.action_space
            action = ops.minimum(ops.maximum(out[:, :space.shape[0]], space.low), space.high)
        else:
            sizes, starts = self.categories
            ends = np.cumsum(sizes)
            choices = [argmax(keras, out[:, end - size:end]) + int(start)
                       for size, start, end in zip(sizes, starts, ends)]
            action = choices[0] if isinstance(self.action_space, spaces.Discrete) else ops.stack(choices, axis=1)
        return {"policy": ExportPart(keras.Model(obs, action, name="policy"), (observations,))}

    def save_model(self, path):
        """One Keras model from raw observations to (actor output, value): encoder and normalisation
        included; the Gaussian's log std goes to ``<path>.log_std.npy``."""
        import keras

        plain = isinstance(self.observation_space, spaces.Box) and not self.image
        # a vector Box: the raw observation; any other space: the encoded one (advdl.api.ObservationEncoder)
        inputs = keras.Input(self.observation_space.shape if plain else self.input_shape)
        x = keras.layers.Flatten()(inputs) if plain else inputs
        if self.encoder is not None:
            x = self.encoder(x)
        if self.obs_rms is not None:
            x = keras.layers.Normalization(mean=self.obs_rms.mean, variance=self.obs_rms.var, name="obs_norm")(x)
        model = keras.Model(inputs, [self.actor(x), self.critic(x)], name="policy")
        model.save(path)
        np.save(str(path) + ".log_std.npy", self.log_std.numpy())

    def load_model(self, path):
        import keras

        try:
            model = keras.models.load_model(path, compile=False, safe_mode=True)
            self.actor.set_weights(model.get_layer("actor").get_weights())
            self.critic.set_weights(model.get_layer("critic").get_weights())
            if self.encoder is not None:
                self.encoder.set_weights(model.get_layer("encoder").get_weights())
                self._encoder = dense_pairs(self.encoder)
            if self.obs_rms is not None:
                norm = model.get_layer("obs_norm")
                self.obs_rms.mean = norm.mean.numpy().reshape(-1).astype(np.float64)
                self.obs_rms.var = norm.variance.numpy().reshape(-1).astype(np.float64)
            if self.continuous:
                self.log_std.assign(np.load(str(path) + ".log_std.npy", allow_pickle=False))
        except Exception as exc:
            raise CheckpointError(f"cannot load model {path}: {type(exc).__name__}: {str(exc)[:200]}") from None
        self._refresh()
