"""Bounds declared on ``option``: checked by ``build`` after conversion, named in one-line errors."""

from dataclasses import dataclass

import pytest
from conftest import assert_user_error

from advdl.api import ConfigError, option
from advdl.api.options import Bounds
from advdl.loading.manager import get_registry
from advdl.rl.settings import RunConfig
from advdl.settings.resolve import split_settings
from advdl.settings.values import build, describe_bounds


@dataclass(frozen=True, kw_only=True)
class Bounded:
    rate: float = option(0.5, "A rate.", above=0, high=1)
    shift: float = option(0.0, "A shift.", low=0, below=0.5)
    count: int = option(1, "A count.", low=1)
    width: int = option(8, "A width.", low=1, high=1024)
    sizes: tuple[int, ...] = option((4,), "Sizes.", low=1, high=8)
    clip: float | None = option(None, "A clip.", above=0)
    name: str = option("x", "No bounds.")


@dataclass(frozen=True, kw_only=True)
class Restated(Bounded):
    rate: float = option(0.25, "A new default, the same bounds.")


@pytest.mark.parametrize("values, message", [
    ({"rate": "0"}, "rate must be in (0, 1], got 0.0"),
    ({"rate": 1.5}, "rate must be in (0, 1], got 1.5"),
    ({"shift": "0.5"}, "shift must be in [0, 0.5), got 0.5"),
    ({"count": "0"}, "count must be at least 1, got 0"),
    ({"width": 2000}, "width must be in 1..1,024, got 2,000"),
    ({"sizes": "4,9"}, "sizes must be made of integers in 1..8, got [4, 9]"),
    ({"clip": "-1"}, "clip must be > 0 or none, got -1.0"),
])
def test_a_value_outside_its_bounds_is_one_clear_error(values, message):
    with pytest.raises(ConfigError) as caught:
        build(Bounded, values, "test settings")
    assert str(caught.value) == f"test settings: {message}"


def test_values_inside_the_bounds_and_none_pass():
    config = build(Bounded, {"rate": "1", "shift": 0, "count": 10**9, "width": 1024, "sizes": "1,8", "clip": "none"},
                   "test settings")
    assert (config.rate, config.shift, config.width, config.sizes, config.clip) == (1.0, 0.0, 1024, (1, 8), None)


def test_a_restated_field_keeps_the_bounds_of_its_base():
    assert build(Restated, {}, "x").rate == 0.25
    with pytest.raises(ConfigError, match=r"rate must be in \(0, 1\]"):
        build(Restated, {"rate": 2}, "x")


@pytest.mark.parametrize("kwargs", [{"low": 0, "above": 0}, {"high": 1, "below": 1}, {"low": 2, "high": 1},
                                    {"low": "0"}, {"high": float("nan")}])
def test_contradictory_bounds_fail_when_the_option_is_declared(kwargs):
    with pytest.raises(TypeError, match="option"):
        option(1, "x", **kwargs)


def test_bounds_in_words():
    assert Bounds.of(low=1).describe(integer=True) == "at least 1"
    assert Bounds.of(high=2000).describe(integer=True) == "at most 2,000"
    assert Bounds.of(above=0).describe() == "> 0"
    assert Bounds.of(low=-20.0, high=20.0).describe() == "in [-20, 20]"
    assert describe_bounds(RunConfig, "seed", int) == "in 0..2,147,483,647"
    assert describe_bounds(Bounded, "name", str) == ""


@pytest.mark.parametrize("args, message", [
    (("--gamma", "1.5"), "qlearning hyperparameters: gamma must be in (0, 1], got 1.5"),
    (("--set", "exploration_decay=-0.1"), "exploration_decay must be in [0, 1] or none, got -0.1"),
    (("--eval-episodes", "0"), "run settings: eval_episodes must be at least 1, got 0"),
])
def test_a_bad_value_on_the_command_line_names_its_bounds_in_one_line(cli, args, message):
    result = cli("run", "qlearning", "--env", "advdl/QWorld-v0", *args, "--out", "out")
    assert_user_error(result, message)
    assert len(result.err.strip().splitlines()) == 1, result.err


def test_split_settings_sorts_run_settings_from_hyperparameters():
    spec = get_registry().algorithm("dqn")
    run, hyper = split_settings(spec, {"steps": 10, "gamma": 0.5, "seed": 1, "nonsense": 2})
    assert run == {"steps": 10, "seed": 1} and hyper == {"gamma": 0.5, "nonsense": 2}
