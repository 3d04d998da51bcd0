"""Built-in named dataset builders for offline tasks."""

from mu_registry import hookimpl

from .digits import digits
from .fashion_mnist import fashion_mnist


@hookimpl
def mu_register_datasets(register):
    register("fashion_mnist", fashion_mnist)
    register("digits", digits)
