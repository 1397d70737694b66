"""Env runs (the ``rl`` family): an Agent trained on Gymnasium environments by the RL Trainer."""

from advdl.api.errors import CheckpointError, EnvSpaceError
from advdl.loading.registry import plugin_call
from advdl.rl.settings import RunConfig
from advdl.runs import folder as runfolder
from advdl.runs.family import Runner, export_parts_of, load_final, versions
from advdl.settings.values import build, env_kwargs_values, to_dict


def far_below(mean, threshold):
    """A final mean short of the env's solved threshold by more than half of its magnitude (CartPole-v1's
    475: below 237.5; Acrobot's -100: below -150): a run that did not learn the task, not one near it."""
    return mean < threshold - abs(threshold) / 2


class EnvRunner(Runner):
    unit = "step"
    metric_names = ("eval_mean", "eval_std", "best_eval_mean", "solved", "episodes", "env_steps", "wall_seconds",
                    "steps_per_second")
    default_metric = "eval_mean"

    @classmethod
    def options(cls):
        import click

        return [
            click.Option(["--env"], help="Gymnasium environment id (e.g. CartPole-v1)."),
            click.Option(["--steps"], type=int, help="Environment steps to train for [default: preset or 100000]."),
            click.Option(["--episodes"], type=int,
                         help="Also stop after this many training episodes [default: preset or 0, no limit]."),
            click.Option(["--env-kwarg", "env_kwargs"], multiple=True, metavar="KEY=VALUE",
                         help="Keyword argument for gymnasium.make (e.g. is_slippery=false); repeatable."),
            click.Option(["--eval-interval"], type=int, help="Evaluate every N env steps (0: never)."),
            click.Option(["--eval-episodes"], type=int, help="Episodes per periodic evaluation."),
            click.Option(["--final-eval-episodes"], type=int, help="Episodes of the final evaluation [default: 20]."),
            click.Option(["--checkpoint-interval"], type=int, help="Checkpoint every N env steps (0: only at the end)."),
            click.Option(["--vec"], type=click.Choice(["sync", "async"]),
                         help="Step the environments in this process (sync) or each in its own subprocess (async; "
                              "for environments slow to step) [default: sync]."),
        ]

    def file_settings(self, run_config):
        return to_dict(run_config) | {"env_kwargs": env_kwargs_values(run_config.env_kwargs)}

    def read_settings(self, values):
        kwargs = values.get("env_kwargs") or {}
        if isinstance(kwargs, dict):  # else: a type error from build
            values["env_kwargs"] = [f"{k}={v}" for k, v in kwargs.items()]
        return values

    def check(self, run_config, dataset=None):
        from advdl.rl.environments import check_env_id

        check_env_id(run_config.env, self.registry)

    def budget(self, run_config):
        return f"{run_config.steps} steps"

    def build_agent(self, run_config, algo_config):
        """The agent and a factory of its environment, after checking the spaces fit."""
        from advdl.rl.environments import for_agent, make_env

        spec, registry = self.spec, self.registry
        kwargs = env_kwargs_values(run_config.env_kwargs)
        agent_class = spec.load_class()

        def env_factory():
            return for_agent(make_env(run_config.env, registry, kwargs), agent_class)

        probe = env_factory()
        name = getattr(agent_class, "__name__", spec.factory)
        try:
            plugin_call(spec, f"{name}.check_spaces(...)", agent_class.check_spaces,
                        probe.observation_space, probe.action_space)
        except EnvSpaceError as exc:
            raise EnvSpaceError(f"{spec.name} cannot run on {run_config.env}: {exc}") from None
        finally:
            probe.close()
        agent = plugin_call(spec, f"{name}(...)", agent_class, algo_config, probe.observation_space,
                            probe.action_space, seed=run_config.seed, total_steps=run_config.steps)
        agent.total_episodes = run_config.episodes
        return agent, env_factory

    def build(self, run_config, algo_config, run_dir, callbacks, progress, **given):
        from advdl.rl.trainer import Trainer

        agent, env_factory = self.build_agent(run_config, algo_config)
        return Trainer(agent, env_factory, run_config, run_dir, callbacks, progress)

    def close(self, trainer):
        trainer.close_envs()

    def finish(self, trainer, run_config, run_dir, preset):
        from advdl.api.plots import learning_curve
        from advdl.rl.evaluation import evaluate, stats
        from advdl.runs.logs import read_columns

        agent = trainer.agent
        kept = trainer.restore_best() if run_config.keep_best else None
        runfolder.write_staged(run_dir, lambda stage: agent.save_model(stage / agent.model_file))
        returns = evaluate(agent, trainer.make_env, run_config.final_eval_episodes, run_config.seed)
        wall, threshold = trainer.wall_seconds(), trainer.threshold
        first = next((e for e in trainer.evaluations if threshold is not None and e["mean"] >= threshold), None)
        summary = {
            "algorithm": self.spec.name, "env": run_config.env, "seed": run_config.seed, "preset": preset,
            "env_steps": trainer.env_steps, "episodes": trainer.episodes,
            "terminated_episodes": trainer.terminated_episodes,
            "wall_seconds": round(wall, 3), "steps_per_second": round(trainer.env_steps / max(wall, 1e-9), 1),
            "eval_seconds": round(trainer.eval_seconds, 3),
            "eval": stats(returns) | {"returns": returns}, "kept_best": kept, "reward_threshold": threshold,
            "first_eval_at_threshold": first and {"env_steps": first["env_steps"],
                                                  "wall_seconds": first["wall_seconds"]},
            "episodes_to_solve": trainer.solved_episode,
            "evaluations": trainer.evaluations,
            "model": agent.model_file,
            "precision": {"policy": "float32", "why": "RL networks act through a float32 numpy forward pass"},
            "versions": versions(),
        }
        steps, episode_returns = read_columns(run_dir / "episodes.csv", "env_steps", "return")
        learning_curve(run_dir / "learning_curve.png", steps, episode_returns, trainer.evaluations,
                       f"{self.spec.name} on {run_config.env} (seed {run_config.seed})", threshold)
        return summary

    @staticmethod
    def check_state(state, path):
        from advdl.rl.trainer import check_state

        check_state(state, path)

    def resume_settings(self, run_config, state, steps, run_dir, finished):
        if steps is not None:
            if state is not None and steps <= state["env_steps"]:
                raise CheckpointError(f"--steps must exceed the {state['env_steps']} steps already trained in {run_dir}")
            # training further by steps lifts an episode limit the run has reached (else nothing would train)
            reached = state is not None and 0 < run_config.episodes <= state["episodes"]
            run_config = build(RunConfig, {**to_dict(run_config), "steps": steps,
                                           "episodes": 0 if reached else run_config.episodes}, "--steps")
        # a run stopped during its final evaluation (no summary yet) resumes straight into it
        done = state is not None and (state["env_steps"] >= run_config.steps
                                      or 0 < run_config.episodes <= state["episodes"])
        if done and finished:
            raise CheckpointError(
                f"{run_dir} already finished ({state['env_steps']} steps, {state['episodes']} episodes); pass "
                f"--steps N (N > {state['env_steps']}) to train further")
        return run_config

    def evaluate(self, run_dir, run_config, algo_config, episodes, seed, record):
        from advdl.rl.evaluation import evaluate, stats
        from advdl.rl.record import check_record, record_episode

        if record:
            check_record(record)  # before the evaluation: a name that cannot be written wastes none
        agent, env_factory = self.build_agent(run_config, algo_config)
        load_final(run_dir, agent)
        seed = run_config.seed if seed is None else seed
        result = stats(evaluate(agent, env_factory, episodes, seed))
        if record:
            record_episode(agent, run_config, self.registry, record, seed)
        return result

    def export_parts(self, run_dir, run_config, algo_config):
        from advdl.rl.evaluation import greedy_observations

        agent, env_factory = self.build_agent(run_config, algo_config)
        load_final(run_dir, agent)
        observations = greedy_observations(agent, env_factory, run_config.seed)
        parts = export_parts_of(self.spec, agent, observations)
        return parts, {"policy": agent.env_action(agent.act(observations, explore=False))} if "policy" in parts else {}

    def evaluate_exported(self, path, run_config, episodes, seed):
        """``advdl eval RUN --model PATH``: the exported policy alone (its own runtime, no Keras model) on the
        run's environment, by the same protocol as the run's final evaluation."""
        from advdl.rl.environments import for_agent, make_env
        from advdl.rl.evaluation import evaluate, stats
        from advdl.runs import export_formats as formats

        fmt = formats.format_of(path)
        formats.check_available(fmt)
        policy = ExportedPolicy(formats.runtime(fmt, path))
        agent_class = self.spec.load_class()
        kwargs = env_kwargs_values(run_config.env_kwargs)
        seed = run_config.seed if seed is None else seed
        return stats(evaluate(policy, lambda: for_agent(make_env(run_config.env, self.registry, kwargs), agent_class),
                              episodes, seed)) | {"model": str(path), "format": fmt}

    def report(self, summary, run_dir):
        ev, kept = summary["eval"], summary.get("kept_best")
        line = (f"Finished {summary['algorithm']} on {summary['env']}: {summary['env_steps']} steps in "
                f"{summary['wall_seconds']:.1f} s ({summary['steps_per_second']:.0f} steps/s); "
                f"evaluation mean {ev['mean']:.2f} +/- {ev['std']:.2f} over {ev['episodes']} episodes"
                + (f" (weights of step {kept['env_steps']}, the best evaluation)" if kept else "")
                + f". Run folder: {run_dir}")
        threshold = summary.get("reward_threshold")
        if threshold is not None and far_below(ev["mean"], threshold):
            line += (f"\nThat is far below {summary['env']}'s threshold {threshold:g}: `advdl info "
                     f"{summary['algorithm']}` lists its presets, `advdl sweep {summary['algorithm']} --env "
                     f"{summary['env']} --grid ...` searches settings, and a longer --steps may help")
        return line

    def aggregate(self, runs, describe):
        threshold = runs[0].get("reward_threshold")
        return {"env": runs[0]["env"], "env_steps": runs[0]["env_steps"], "reward_threshold": threshold,
                "final_mean": describe([r["eval"]["mean"] for r in runs]),
                "solved_fraction": (sum(r["eval"]["mean"] >= threshold for r in runs) / len(runs)
                                    if threshold is not None else None),
                "first_step_at_threshold": [r["first_eval_at_threshold"] and r["first_eval_at_threshold"]["env_steps"]
                                            for r in runs],
                "wall_seconds": describe([r["wall_seconds"] for r in runs]),
                "steps_per_second": describe([r["steps_per_second"] for r in runs])}

    def curve(self, summary):
        rows = summary.get("evaluations") or []
        return [r["env_steps"] for r in rows], [r["mean"] for r in rows]

    def curve_axes(self, summary):
        return "environment steps", "evaluation mean return", summary.get("reward_threshold")


class ExportedPolicy:
    """An exported policy file as the evaluation calls an agent: its output is the env's action."""

    def __init__(self, run):
        self.run = run

    def act(self, obs, explore):
        from advdl.api.errors import ConfigError
        from advdl.runs.export_formats import first_line

        try:
            return self.run([obs])[0]
        except ConfigError:
            raise
        except Exception as exc:  # another env's policy, say
            raise ConfigError(f"the exported policy cannot act on this run's observations (shape "
                              f"{tuple(obs.shape[1:])}): {type(exc).__name__}: {first_line(exc)}") from None

    def env_action(self, actions):
        return actions
