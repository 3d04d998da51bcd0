"""Built-in LUMoE routers (see :mod:`mu_registry.api.router` for the interface)."""

from mu_registry import hookimpl


@hookimpl
def mu_register_routers(register):
    register("entity", f"{__name__}.entity:EntityRouter")
    register("oracle", f"{__name__}.oracle:OracleRouter")
    register("trained", f"{__name__}.trained:TrainedRouter")
