"""The book's A2C, as its code (chapter10-policy/policygradient-car-10.1.1.py) trains it: ``a2c`` with
``update=book`` (the ``book`` preset). ``A2CAgent(config, ...)`` makes this class when the config asks
for it, so the algorithm's factory stays ``a2c:A2CAgent``.

One environment; after every whole episode, the discounted returns from its last step back,

    R_T = 0 if the episode terminated else V(s_T);   R_t = r_t + gamma R_t+1

then, from the last step back to the first, one batch-1 update per step, the actor's first:

    delta_t = R_t - V(s_t)                           (a constant; V as the later steps left it)
    actor:  loss = -mean_i(delta_t log N(a'_i; mu_i(s_t), sigma_i(s_t)))     RMSprop
            a' = clip(mu + sigma eps, low, high), eps ~ N(0, 1) drawn afresh for the update
    critic: loss = vf_coef (R_t - V(s_t))^2                                  Adam

The quirk kept from the book: the log-probability is the one of a fresh reparameterised sample, not
of the action taken (the book's memory holds no action), and the gradient flows through the sample
too: inside the bounds its log-probability does not depend on mu, so the mean only learns from
samples the clip caught, and sigma shrinks when delta > 0 and grows when delta < 0. The book's
entropy term is a constant (no gradient): ``ent_coef`` 0 reproduces it.

The networks are the book's: zero-initialised linear heads (mean; std = softplus + 1e-10, so
ln 2 at first, and state-dependent; value) on the features (the frozen encoder's code with the
``book`` preset's ``hidden_sizes=()``; tanh layers in between otherwise). The optimizers are
Keras 2's, as the book ran them: RMSprop for the actor (rho 0.9, eps 1e-7 added outside the square
root) and a separate Adam for the critic (0.9, 0.999, eps 1e-7), both at ``learning_rate``. Acting
draws white Gaussian noise around the mean; the environment gets it clipped to the bounds.

A whole episode's backward pass is one XLA-compiled call (a loop over its steps); the update's
noise comes from the agent's numpy generator, so it is seeded and part of the checkpoint.
"""

import math

import numpy as np
from gymnasium import spaces

from advdl.api import EnvSpaceError, ObservationEncoder, import_tensorflow

from .a2c import A2CAgent
from .policies import mlp_forward

STD_EPSILON = 1e-10  # the book's softplusk: softplus(x) + 1e-10
RMSPROP = {"rho": 0.9, "epsilon": 1e-7}  # Keras 2's defaults (the book's RMSprop(lr=1e-3))
ADAM = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}
METRICS = ("loss", "policy_loss", "value_loss", "entropy")


def bootstrapped_returns(rewards, last_value, gamma):
    """The book's returns: from ``last_value`` (0 at a real end, V(s_T) at a time limit) backwards."""
    returns = np.zeros(len(rewards))
    running = float(last_value)
    for t in reversed(range(len(rewards))):
        running = float(rewards[t]) + gamma * running
        returns[t] = running
    return returns


def softplus(x):
    return np.logaddexp(0.0, x)


class BookA2CAgent(A2CAgent):
    data = "episodes"
    name = "A2C (book)"

    def __init__(self, config, observation_space, action_space, *, seed, total_steps):
        if not (isinstance(action_space, spaces.Box) and len(action_space.shape) == 1):
            raise EnvSpaceError(f"a2c with update=book (the book's Gaussian policy) needs a 1-d Box action space, "
                                f"got {action_space}")
        if ObservationEncoder(observation_space).image:
            raise EnvSpaceError(f"a2c with update=book has no CNN torso: it needs vector observations, got "
                                f"{observation_space}")
        super().__init__(config, observation_space, action_space, seed=seed, total_steps=total_steps)
        tf, _ = import_tensorflow()
        self.n_actions = int(action_space.shape[0])
        self.actor_slots = [tf.Variable(tf.zeros_like(v), name="rmsprop_velocity")
                            for v in self.actor.trainable_variables]
        self.critic_slots = [tf.Variable(tf.zeros_like(v), name=f"adam_{kind}")
                             for kind in ("m", "v") for v in self.critic.trainable_variables]
        self.critic_iterations = tf.Variable(0.0, name="adam_iterations")  # float: exact up to 2**24 updates
        self.book_slots = [*self.actor_slots, *self.critic_slots, self.critic_iterations]
        self._episode = tf.function(self._episode_graph, jit_compile=True)
        self._episode_compiled = {}  # padded length -> concrete function

    def _mlp(self, keras, n_out, out_gain, name):
        """The book's heads: linear, zero kernel and bias; the actor's outputs the means, then the std's
        pre-activations."""
        hidden = keras.initializers.Orthogonal(math.sqrt(2))
        layers = [keras.Input(self.input_shape)]
        layers += [keras.layers.Dense(u, activation="tanh", kernel_initializer=hidden) for u in self.config.hidden_sizes]
        layers += [keras.layers.Dense(2 * n_out if name == "actor" else n_out, kernel_initializer="zeros")]
        return keras.Sequential(layers, name=name)

    # -- acting ------------------------------------------------------------------------------------
    def mean_and_std(self, inputs):
        out = mlp_forward(self._actor, inputs)[1]
        return out[:, :self.n_actions], softplus(out[:, self.n_actions:]) + STD_EPSILON

    def act(self, obs, explore):
        mean, std = self.mean_and_std(self.inputs(obs, update_stats=explore))
        if not explore:
            return mean
        return (mean + std * self.rng.standard_normal(mean.shape)).astype(np.float32)

    def log_prob_and_entropy(self, inputs, actions):
        """log N(a; mu(s), sigma(s)) and the entropy per row (TensorFlow, differentiable)."""
        import tensorflow as tf

        mean, std = self._heads(tf.convert_to_tensor(inputs))
        return self._log_prob(actions, mean, std), tf.reduce_sum(self._entropy(std), axis=1)

    # -- learning ----------------------------------------------------------------------------------
    def train_step(self, episode):
        c = self.config
        last_value = 0.0 if episode.terminated else float(self.values(np.asarray(episode.last_obs)[None])[0])
        returns = bootstrapped_returns(episode.rewards, last_value, c.gamma)
        noise = self.rng.standard_normal((len(returns), self.n_actions)).astype(np.float32)
        return self.update_episode(self.inputs(episode.obs), returns, noise)

    def update_episode(self, inputs, returns, noise):
        """The book's updates, one per step from the last back to the first: ``inputs`` (t, features) as the
        networks see them, ``returns`` (t,), ``noise`` (t, actions) the standard normal draws of the resampled
        actions. One compiled call; its rows are padded to a power of two (a few compiled shapes)."""
        import tensorflow as tf

        n = len(returns)
        size = 1 << (n - 1).bit_length()
        rows = [np.asarray(inputs, np.float32), np.asarray(returns, np.float32).reshape(-1),
                np.asarray(noise, np.float32).reshape(n, self.n_actions)]
        rows = [np.concatenate([r, np.zeros((size - n, *r.shape[1:]), np.float32)]) for r in rows]
        if size not in self._episode_compiled:
            specs = [tf.TensorSpec(r.shape, tf.float32) for r in rows] + [tf.TensorSpec((), tf.int32)]
            self._episode_compiled[size] = self._episode.get_concrete_function(*specs)
        out = self._episode_compiled[size](*rows, tf.constant(n, tf.int32)).numpy()
        self._refresh(out[len(METRICS):])
        return dict(zip(METRICS, out[:len(METRICS)].tolist()))

    def _heads(self, x):
        import tensorflow as tf

        out = self.actor(x)
        return out[:, :self.n_actions], tf.nn.softplus(out[:, self.n_actions:]) + STD_EPSILON

    @staticmethod
    def _log_prob(actions, mean, std):
        """Per dimension, as tf.distributions.Normal.log_prob computes it."""
        import tensorflow as tf

        return -0.5 * tf.square((actions - mean) / std) - (0.5 * math.log(2 * math.pi) + tf.math.log(std))

    @staticmethod
    def _entropy(std):
        import tensorflow as tf

        return 0.5 * (1.0 + math.log(2 * math.pi)) + tf.math.log(std)

    def _episode_graph(self, inputs, returns, noise, n):
        import tensorflow as tf

        c = self.config
        low = tf.constant(self.action_space.low.astype(np.float32))
        high = tf.constant(self.action_space.high.astype(np.float32))
        actor_vars, critic_vars = self.actor.trainable_variables, self.critic.trainable_variables
        totals = tf.zeros(3)
        for i in tf.range(n):
            t = n - 1 - i
            x, target, eps = inputs[t][None], returns[t], noise[t][None]
            delta = target - self.critic(x)[0, 0]  # the book predicts it before either fit: a constant
            with tf.GradientTape() as tape:
                mean, std = self._heads(x)
                resampled = tf.clip_by_value(mean + std * eps, low, high)  # the book's Lambda(action)
                log_prob = self._log_prob(resampled, mean, std)
                entropy = tf.reduce_mean(self._entropy(std))
                # Keras: -K.mean(y_pred * y_true + beta * entropy, axis=-1), the entropy a constant there
                policy_loss = -tf.reduce_mean(log_prob * delta) - c.ent_coef * entropy
            self._rmsprop(self._clip(tape.gradient(policy_loss, actor_vars)), actor_vars)
            with tf.GradientTape() as tape:
                value_loss = tf.square(target - self.critic(x)[0, 0])
                weighted = c.vf_coef * value_loss
            self._adam(self._clip(tape.gradient(weighted, critic_vars)), critic_vars)
            totals += tf.stack([policy_loss, value_loss, entropy])
        means = totals / tf.cast(n, tf.float32)
        loss = means[0] + c.vf_coef * means[1]
        return tf.concat([tf.stack([loss, means[0], means[1], means[2]]),
                          *(tf.reshape(w, [-1]) for w in self._acting_weights)], axis=0)

    def _clip(self, grads):
        import tensorflow as tf

        if self.config.max_grad_norm is None:
            return grads
        return tf.clip_by_global_norm(grads, self.config.max_grad_norm)[0]

    def _rmsprop(self, grads, variables):
        """Keras 2's RMSprop: a = rho a + (1 - rho) g^2; p -= lr g / (sqrt(a) + eps)."""
        import tensorflow as tf

        lr, rho, eps = self.config.learning_rate, RMSPROP["rho"], RMSPROP["epsilon"]
        for g, p, a in zip(grads, variables, self.actor_slots):
            a.assign(rho * a + (1.0 - rho) * tf.square(g))
            p.assign_sub(lr * g / (tf.sqrt(a) + eps))

    def _adam(self, grads, variables):
        """Keras 2's Adam: lr_t = lr sqrt(1 - b2^t) / (1 - b1^t); p -= lr_t m / (sqrt(v) + eps)."""
        import tensorflow as tf

        b1, b2, eps = ADAM["beta_1"], ADAM["beta_2"], ADAM["epsilon"]
        t = self.critic_iterations + 1.0
        lr_t = self.config.learning_rate * tf.sqrt(1.0 - tf.pow(b2, t)) / (1.0 - tf.pow(b1, t))
        n = len(variables)
        for g, p, m, v in zip(grads, variables, self.critic_slots[:n], self.critic_slots[n:]):
            m.assign(b1 * m + (1.0 - b1) * g)
            v.assign(b2 * v + (1.0 - b2) * tf.square(g))
            p.assign_sub(lr_t * m / (tf.sqrt(v) + eps))
        self.critic_iterations.assign(t)

    # -- state -------------------------------------------------------------------------------------
    def get_state(self):
        return {**super().get_state(), "book_optimizers": [v.numpy() for v in self.book_slots]}

    def set_state(self, state):
        super().set_state(state)
        for variable, value in zip(self.book_slots, state["book_optimizers"], strict=True):
            variable.assign(value)
