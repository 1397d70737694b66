"""An environment's state as plain data: what a checkpoint keeps of each environment mid-episode.

``get_state(env)`` walks the wrapper chain (``env``, ``env.env``, ... the unwrapped environment)
and keeps each layer's class and its instance attributes (``vars(layer)``) as plain data: dicts,
lists, tuples, str, int, float, bool, None, bytes, numpy arrays (not of objects) and scalars; a
deque, a set and a numpy random generator (as its bit generator's state) in a tagged form.
``set_state(env, state)`` puts them back onto a fresh environment made from the run's config, which
then continues exactly where the saved one stood. It imports and calls nothing named by the file:
it assigns plain values, and only to attributes that hold plain data on the fresh environment.

Not saved, because ``gymnasium.make`` rebuilds them from the config: a wrapper's ``env``, the spec
and metadata (``SKIPPED``), the render handles (pygame windows and images; the fresh environment
opens its own on its next render), and the spaces, of which only the random generators are kept
(so that ``action_space.sample()`` continues exactly).

Any other object in an attribute (a simulator handle, a callable...) makes the layer not plain
data. Its class can then offer two methods: ``get_state()``, returning what those attributes hold
as plain data (as above), and ``set_state(state)``, receiving it on a freshly made environment
after the layer's plain attributes were restored. Without them ``get_state`` raises
``NotPlainData``, naming the layer and the attribute.
"""

import collections
import inspect

import numpy as np

from advdl.api.errors import CheckpointError

FORMAT = 1
SKIPPED = frozenset({"spec", "_cached_spec", "metadata", "_metadata", "_saved_kwargs"})  # and a wrapper's env
RENDER_HANDLES = frozenset({"screen", "clock", "window", "window_surface", "viewer"})  # and *_img, *_imgs
BIT_GENERATORS = {cls.__name__: cls for cls in (np.random.PCG64, np.random.PCG64DXSM, np.random.MT19937,
                                               np.random.Philox, np.random.SFC64)}
SCALARS = (type(None), bool, int, float, str, bytes)
RNGS = (np.random.Generator, np.random.RandomState)
TAGS = {"__deque__": {"maxlen"}, "__set__": set(), "__frozenset__": set(), "__mapping__": set(),
        "__rng__": set(), "__randomstate__": set(), "__same__": set()}  # tag -> its other keys
_MISSING = object()


class NotPlainData(Exception):
    """An environment whose state is not plain data; the message names the layer and the attribute."""


def layers(env):
    import gymnasium as gym

    chain = [env]
    while isinstance(chain[-1], gym.Wrapper):
        chain.append(chain[-1].env)
    return chain


def class_name(obj):
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def env_name(env):
    spec = getattr(env, "spec", None)
    return getattr(spec, "id", None) or type(getattr(env, "unwrapped", env)).__name__


def _skipped(layer, name, value):
    from gymnasium import Wrapper
    from gymnasium.envs.registration import EnvSpec

    return (name in SKIPPED or name in RENDER_HANDLES or name.endswith(("_img", "_imgs"))
            or isinstance(value, EnvSpec) or (name == "env" and isinstance(layer, Wrapper)))


def _has_own_state(layer):
    return callable(getattr(type(layer), "get_state", None)) and callable(getattr(type(layer), "set_state", None))


# -- saving -------------------------------------------------------------------------------------
def get_state(env):
    """The state of ``env``'s whole wrapper chain as plain data, or NotPlainData."""
    saver = _Saver(env_name(env))
    return {"envstate": FORMAT, "layers": [saver.layer(layer) for layer in layers(env)]}


class _Saver:
    def __init__(self, env_id):
        self.env_id = env_id
        self.rngs = {}  # id of each generator saved -> its index: one shared by two attributes stays shared

    def layer(self, layer):
        node, refused = {"class": class_name(layer), "attributes": {}}, None
        if not hasattr(layer, "__dict__"):
            refused = self.refused(layer, "__slots__", "the attributes (no __dict__)")
        for name, value in getattr(layer, "__dict__", {}).items():
            if _skipped(layer, name, value):
                continue
            rngs = dict(self.rngs)
            try:
                node["attributes"][name] = self.attribute(layer, name, value)
            except NotPlainData as exc:
                self.rngs, refused = rngs, refused or exc  # the generators it held are not in the state
        if refused:
            if not _has_own_state(layer):
                raise refused
            node["own"] = self.value(layer.get_state(), layer, "get_state()")
        return node

    def attribute(self, layer, name, value):
        from gymnasium.spaces import Space

        if isinstance(value, Space):
            return self.space(value, layer, name)
        return self.value(value, layer, name)

    def space(self, space, layer, name):
        rng = vars(space).get("_np_random")
        return {"__space__": None if rng is None else self.value(rng, layer, name),
                "parts": [self.space(part, layer, name) for part in _subspaces(space)]}

    def value(self, value, layer, name):
        kind = type(value)
        if kind in SCALARS:
            return value
        if kind is np.ndarray or isinstance(value, np.generic):
            if value.dtype.hasobject:
                raise self.refused(layer, name, "an array of Python objects")
            return value.copy()
        if kind in (list, tuple):
            return kind(self.value(v, layer, name) for v in value)
        if kind is dict:
            items = [[self.key(k, layer, name), self.value(v, layer, name)] for k, v in value.items()]
            if any(type(k) is str and k.startswith("__") for k in value):  # it could be read as a tag
                return {"__mapping__": items}
            return dict(items)
        if kind is collections.deque:
            return {"__deque__": [self.value(v, layer, name) for v in value], "maxlen": value.maxlen}
        if kind in (set, frozenset):
            return {f"__{kind.__name__}__": [self.key(v, layer, name) for v in value]}
        if kind in RNGS:
            return self.rng(value, layer, name)
        raise self.refused(layer, name, f"a {kind.__module__}.{kind.__qualname__}")

    def key(self, key, layer, name):
        if type(key) in SCALARS or isinstance(key, np.generic):
            return key
        if type(key) is tuple:
            return tuple(self.key(k, layer, name) for k in key)
        raise self.refused(layer, name, f"a key of type {type(key).__name__}")

    def rng(self, rng, layer, name):
        if id(rng) in self.rngs:
            return {"__same__": self.rngs[id(rng)]}
        bits = rng.bit_generator if type(rng) is np.random.Generator else rng._bit_generator
        if BIT_GENERATORS.get(type(bits).__name__) is not type(bits):
            raise self.refused(layer, name, f"a generator of bit generator {type(bits).__name__}")
        self.rngs[id(rng)] = len(self.rngs)
        if type(rng) is np.random.Generator:
            return {"__rng__": self.value(bits.state, layer, name)}
        return {"__randomstate__": self.value(rng.get_state(legacy=False), layer, name)}

    def refused(self, layer, name, what):
        return NotPlainData(f"{self.env_id}: {type(layer).__qualname__}.{name} holds {what}")


def _subspaces(space):
    """The spaces inside a composite space (Tuple, Dict, Sequence, Graph, OneOf), in a fixed order."""
    from gymnasium.spaces import Space

    parts = []
    for value in vars(space).values():
        values = value.values() if isinstance(value, dict) else value if isinstance(value, (tuple, list)) else [value]
        parts += [v for v in values if isinstance(v, Space)]
    return parts


def is_plain(value):
    try:
        _Saver("").value(value, None, "")
        return True
    except NotPlainData:
        return False


# -- restoring (the state may be hostile: a checksum anyone can recompute is no defence) --------
def set_state(env, state):
    """Put ``state`` (from ``get_state``) onto ``env``, freshly made from the run's config; a state
    that does not fit it, or is malformed, is a CheckpointError."""
    chain = layers(env)
    if type(state) is not dict or set(state) != {"envstate", "layers"} or type(state["envstate"]) is not int \
            or state["envstate"] != FORMAT or type(state["layers"]) is not list \
            or not all(type(node) is dict and type(node.get("class")) is str for node in state["layers"]):
        raise _malformed("not an environment state of this advdl")
    saved = [node["class"] for node in state["layers"]]
    fresh = [class_name(layer) for layer in chain]
    if saved != fresh:
        raise CheckpointError(f"the checkpoint's environment ({' < '.join(c[:80] for c in saved)}) does not fit "
                              f"this run's ({' < '.join(fresh)})")
    loader = _Loader()
    try:
        for layer, node in zip(chain, state["layers"]):
            loader.layer(layer, node)
    except (TypeError, ValueError, OverflowError, KeyError, IndexError, RecursionError) as exc:
        raise _malformed(f"{type(exc).__name__}: {str(exc)[:80]}") from None


def _malformed(detail):
    return CheckpointError(f"the checkpoint's environment state is malformed ({detail})")


class _Loader:
    def __init__(self):
        self.rngs = []  # the generators restored so far, by index (for "__same__")

    def layer(self, layer, node):
        where = type(layer).__qualname__
        if set(node) - {"own"} != {"class", "attributes"} or type(node["attributes"]) is not dict:
            raise _malformed(f"layer {where}")
        if "own" in node and not _has_own_state(layer):
            raise _malformed(f"{where} has no set_state()")
        for name, value in node["attributes"].items():
            self.attribute(layer, name, value)
        if "own" in node:
            state = self.value(node["own"])
            try:
                layer.set_state(state)
            except Exception as exc:
                raise CheckpointError(f"{where}.set_state() refused the checkpoint's environment state "
                                      f"({type(exc).__name__}: {str(exc)[:80]})") from None

    def attribute(self, layer, name, node):
        from gymnasium.spaces import Space

        if type(name) is not str or not name.isidentifier() or name.startswith("__"):
            raise _malformed(f"attribute name {str(name)[:40]!r}")
        where = f"{type(layer).__qualname__}.{name}"
        if _skipped(layer, name, None):
            raise _malformed(f"{where} is not restored from a checkpoint")
        current = vars(layer)[name] if name in vars(layer) else inspect.getattr_static(type(layer), name, _MISSING)
        if type(node) is dict and "__space__" in node:
            if not isinstance(current, Space):
                raise _malformed(f"{where} is not a space here")
            self.space(current, node, where)
            return
        if current is not _MISSING and not is_plain(current):
            raise _malformed(f"it would replace {where}, a {type(current).__name__}, with plain data")
        value = self.value(node, current)
        if type(current) in RNGS and type(value) not in RNGS:
            raise _malformed(f"it would replace {where}, a random generator, with plain data")
        vars(layer)[name] = value  # not setattr: no property or __setattr__ of the class runs

    def space(self, space, node, where):
        if set(node) != {"__space__", "parts"} or type(node["parts"]) is not list:
            raise _malformed(f"space {where}")
        rng = node["__space__"]
        if rng is not None:
            rng = self.value(rng, vars(space).get("_np_random"))
            if type(rng) is not np.random.Generator:
                raise _malformed(f"the generator of space {where}")
        vars(space)["_np_random"] = rng
        parts = _subspaces(space)
        if len(parts) != len(node["parts"]):
            raise _malformed(f"space {where} has {len(parts)} parts here")
        for part, part_node in zip(parts, node["parts"]):
            self.space(part, part_node, where)

    def value(self, node, current=_MISSING):
        kind = type(node)
        if kind in SCALARS or isinstance(node, np.generic):
            return node
        if kind is np.ndarray:
            if node.dtype.hasobject:
                raise _malformed("an array of objects")
            return node.copy()
        if kind in (list, tuple):
            return kind(self.value(v) for v in node)
        if kind is not dict:
            raise _malformed(f"a {kind.__name__}")
        tags = [k for k in node if type(k) is str and k.startswith("__")]
        if not tags:
            return {self.key(k): self.value(v) for k, v in node.items()}
        tag = tags[0]
        if tag not in TAGS or set(node) != {tag} | TAGS[tag]:
            raise _malformed(f"an entry tagged {str(tag)[:40]!r}")
        payload = node[tag]
        if tag == "__same__":
            if type(payload) is not int or not 0 <= payload < len(self.rngs):
                raise _malformed("a reference to a generator")
            return self.rngs[payload]
        if tag in ("__rng__", "__randomstate__"):
            return self.rng(tag, self.value(payload), current)
        if type(payload) is not list:
            raise _malformed(f"the items of {tag}")
        if tag == "__deque__":
            maxlen = node["maxlen"]
            if maxlen is not None and (type(maxlen) is not int or maxlen < 0):
                raise _malformed("a deque's maxlen")
            return collections.deque([self.value(v) for v in payload], maxlen)
        if tag == "__mapping__":
            if not all(type(kv) in (list, tuple) and len(kv) == 2 for kv in payload):
                raise _malformed("the items of a mapping")
            return {self.key(k): self.value(v) for k, v in payload}
        return {"__set__": set, "__frozenset__": frozenset}[tag](self.key(v) for v in payload)

    def key(self, key):
        if type(key) in SCALARS or isinstance(key, np.generic):
            return key
        if type(key) is tuple:
            return tuple(self.key(k) for k in key)
        raise _malformed(f"a key of type {type(key).__name__}")

    def rng(self, tag, state, current):
        """A generator in ``state``: the fresh environment's own when it is one of the same kind, else a
        new one, of a bit generator from BIT_GENERATORS only."""
        name = state.get("bit_generator") if type(state) is dict else None
        if type(name) is not str or name not in BIT_GENERATORS:
            raise _malformed(f"bit generator {str(name)[:40]!r} (known: {', '.join(BIT_GENERATORS)})")
        kind = np.random.Generator if tag == "__rng__" else np.random.RandomState
        bits = None if type(current) is not kind else current.bit_generator if kind is np.random.Generator \
            else current._bit_generator
        rng = current if type(bits) is BIT_GENERATORS[name] else kind(BIT_GENERATORS[name]())
        if kind is np.random.Generator:
            rng.bit_generator.state = state
        else:
            rng.set_state(state)
        self.rngs.append(rng)
        return rng
