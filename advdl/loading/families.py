"""advdl's own run families, registered through the same hook a third-party family uses."""

from advdl.api.family import FamilySpec
from advdl.api.hookspecs import hookimpl


@hookimpl
def advdl_register_families(register):
    register(FamilySpec("rl", runner="advdl.rl.runner:EnvRunner", settings="advdl.settings.config:RunConfig",
                        target="env", summary="Agents trained on Gymnasium environments"))
    register(FamilySpec("supervised", runner="advdl.datasets.runner:DatasetRunner",
                        settings="advdl.settings.config:DataRunConfig", target="data",
                        summary="Classifiers trained on an image dataset"))
    register(FamilySpec("generative", runner="advdl.datasets.generative:GenerativeRunner",
                        settings="advdl.settings.config:GenerativeRunConfig", target="data",
                        summary="Generative models trained on an image dataset, scored while they train"))
