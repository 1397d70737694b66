"""advdl's own run families, registered through the same hook a third-party family uses."""

from advdl.api.family import FamilySpec
from advdl.api.hookspecs import hookimpl


@hookimpl
def advdl_register_families(register):
    register(FamilySpec("rl", runner="advdl.rl.runner:EnvRunner", settings="advdl.rl.settings:RunConfig",
                        target="env", summary="Agents trained on Gymnasium environments"))
    register(FamilySpec("supervised", runner="advdl.datasets.runner:DatasetRunner",
                        settings="advdl.datasets.settings:DataRunConfig", target="data",
                        summary="Classifiers trained on an image dataset"))
    register(FamilySpec("generative", runner="advdl.datasets.generative:GenerativeRunner",
                        settings="advdl.datasets.settings:GenerativeRunConfig", target="data",
                        summary="Generative models trained on an image dataset, scored while they train"))
