"""Callbacks: objects a run calls at points of its training, the same for RL and dataset runs.

Subclass ``Callback`` and override what you need, or pass any object with some of these
methods; plugins add callbacks to every run through the ``advdl_run_callbacks`` hook.

``run``, the first argument of each, is the run's trainer. Both kinds have ``run.config`` (the
RunConfig), ``run.run_dir`` (a ``pathlib.Path``), ``run.step`` (RL: env steps so far, also
``run.env_steps``; dataset runs: batches trained) and ``run.learner`` (the agent or the model).

Returning True from ``on_log`` or ``on_evaluation`` ends the run early, as a finished run: an RL
run stops after that step, a dataset run evaluates the epoch under way (a part-trained one gets
its own row in the history); either writes a checkpoint and goes on to its final evaluation and
summary. (``run.request_stop()`` is what Ctrl-C does instead: a checkpoint, then an interrupted
run that ``advdl run --resume`` continues.)
"""


class Callback:
    def on_start(self, run):
        """Before the first step (also when a run resumes)."""

    def on_episode_end(self, run, episode_return, episode_length):
        """RL runs only: after every training episode."""

    def on_log(self, run, row):
        """After each metrics.csv row (``row`` is the dict written). Return True to end the run."""

    def on_evaluation(self, run, record):
        """RL runs: after each periodic evaluation (``record`` has env_steps, wall_seconds, mean, std,
        episodes). Dataset runs: at each epoch's end, with the epoch's row of epochs.csv (epoch, step,
        the training means and the test metrics). Return True to end the run."""

    def on_end(self, run, summary):
        """Once the run finished and its summary (the dict in summary.json) exists; not after an
        interrupted or diverged run."""
