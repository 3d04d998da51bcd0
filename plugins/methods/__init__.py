"""Built-in unlearning methods, one short file each."""

from mu_registry import hookimpl

from .finetune import Finetune
from .neggrad import NegGrad
from .random_label import RandomLabel


@hookimpl
def mu_register_methods(register):
    register("finetune", Finetune)
    register("neggrad", NegGrad)
    register("random_label", RandomLabel)
