"""Callbacks: objects the Trainer calls at points of a run (return True to stop early).

Subclass ``Callback`` and override what you need, or pass any object with some of these
methods; plugins add callbacks to every run through the ``advdl_run_callbacks`` hook.
"""


class Callback:
    def on_start(self, trainer):
        """Before the first step (also when a run resumes)."""

    def on_episode_end(self, trainer, episode_return, episode_length):
        """After every training episode."""

    def on_log(self, trainer, row):
        """After each metrics.csv row (``row`` is the dict written). Return True to stop."""

    def on_evaluation(self, trainer, record):
        """After each periodic evaluation (``record`` has env_steps, mean, std). Return True to stop."""

    def on_end(self, trainer):
        """After the last step of a run that was not interrupted."""
