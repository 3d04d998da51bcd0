"""Built-in unlearning methods, one short file each (the loss is in the module docstring)."""

from mu_registry import hookimpl

from .bad_teacher import BadTeacher
from .finetune import Finetune
from .graddiff import GradDiff
from .l1_sparse import L1Sparse
from .neggrad import NegGrad
from .npo import NPO
from .random_label import RandomLabel
from .retrain import Retrain
from .salun import SalUn
from .scrub import SCRUB


@hookimpl
def mu_register_methods(register):
    register("retrain", Retrain)
    register("finetune", Finetune)
    register("neggrad", NegGrad)
    register("graddiff", GradDiff)
    register("random_label", RandomLabel)
    register("salun", SalUn)
    register("bad_teacher", BadTeacher)
    register("scrub", SCRUB)
    register("l1_sparse", L1Sparse)
    register("npo", NPO)
