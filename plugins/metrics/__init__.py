"""Built-in metrics."""

from mu_registry import hookimpl

from .accuracy import accuracy
from .gap import gap_to_retrain


@hookimpl
def mu_register_metrics(register):
    register("accuracy", accuracy)
    register("gap_to_retrain", gap_to_retrain)
