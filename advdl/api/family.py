"""Run families: the runs of an algorithm family share their settings, options, loop and summary.

``AlgorithmSpec.family`` names one. advdl's own (``rl``, ``supervised``, ``generative``) are
registered exactly as a third party registers another: ``advdl_register_families(register)``
calling ``register(FamilySpec(...))``; its ``runner`` subclasses ``advdl.runs.family.Runner``.
"""

from dataclasses import dataclass

from advdl.api.specs import import_plainly


@dataclass
class FamilySpec:
    """One family of runs.

    ``runner`` names the ``Runner`` subclass as ``"module:Class"`` (imported when a run starts);
    ``settings`` names the frozen dataclass of the family's run settings (imported by ``advdl info``
    and ``advdl run ALGO --help``: keep its module cheap, no TensorFlow); ``target`` is the run
    setting that names what a run trains on (``env``, ``data``), given as ``--TARGET``.
    """

    name: str
    runner: str
    settings: str
    target: str
    summary: str = ""
    # filled in by the registry:
    plugin: str = ""
    distribution: str = ""
    version: str = ""

    def settings_class(self):
        return import_plainly(self.settings)
