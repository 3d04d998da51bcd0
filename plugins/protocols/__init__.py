"""Built-in protocols: classification (MU-Bench's references and metrics) and the lifelong protocol of
generative tasks (MLUBench, PULSE). Both run the core's shared request loop."""

from mu_registry import hookimpl


@hookimpl
def mu_register_protocols(register):
    register("classification", "mu_registry.protocols.classification:ClassificationProtocol")
    register("generation", "mu_registry.protocols.lifelong:LifelongProtocol")
