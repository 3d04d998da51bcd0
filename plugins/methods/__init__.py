"""Built-in unlearning methods, one short file each (the loss is in the module docstring).

Classification (MU-Bench): retrain ... npo. Generative (MLUBench, PULSE): ga, ga_klr, gd, llm_npo,
simnpo, idk, idk_dpo, rmu, lumoe.
"""

from mu_registry import hookimpl

from .bad_teacher import BadTeacher
from .ga import GA
from .ga_klr import GAKLR
from .gd import GD
from .idk import IdK
from .idk_dpo import IdkDPO
from .llm_npo import LLMNPO
from .lumoe import LUMoE
from .rmu import RMU
from .simnpo import SimNPO
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
    register("ga", GA)
    register("ga_klr", GAKLR)
    register("gd", GD)
    register("llm_npo", LLMNPO)
    register("simnpo", SimNPO)
    register("idk", IdK)
    register("idk_dpo", IdkDPO)
    register("rmu", RMU)
    register("lumoe", LUMoE)


@hookimpl
def mu_register_routers(register):
    from mu_registry.routing import OracleRouter, TrainedRouter

    register("oracle", OracleRouter)
    register("trained", TrainedRouter)
