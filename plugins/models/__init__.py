"""Built-in model families for the offline tasks."""

from mu_registry import hookimpl

from .mlp import MLPClassifier
from .small_cnn import SmallCNN


@hookimpl
def mu_register_models(register):
    register("small_cnn", SmallCNN)
    register("mlp", MLPClassifier)
