"""Built-in unlearning methods, one short file each (the loss is in the module docstring).

Classification (MU-Bench): retrain ... npo. Generative (MLUBench, PULSE): ga, ga_klr, gd, llm_npo,
simnpo, idk, po, idk_dpo, rmu, lumoe (lumoe_npo: a variant).

Each is registered by import path (``module:Attribute``) and imported when a run first uses it.
"""

from mu_registry import hookimpl


@hookimpl
def mu_register_methods(register):
    register("retrain", f"{__name__}.retrain:Retrain")
    register("finetune", f"{__name__}.finetune:Finetune")
    register("neggrad", f"{__name__}.neggrad:NegGrad")
    register("graddiff", f"{__name__}.graddiff:GradDiff")
    register("random_label", f"{__name__}.random_label:RandomLabel")
    register("salun", f"{__name__}.salun:SalUn")
    register("bad_teacher", f"{__name__}.bad_teacher:BadTeacher")
    register("scrub", f"{__name__}.scrub:SCRUB")
    register("l1_sparse", f"{__name__}.l1_sparse:L1Sparse")
    register("npo", f"{__name__}.npo:NPO")
    register("ga", f"{__name__}.ga:GA")
    register("ga_klr", f"{__name__}.ga_klr:GAKLR")
    register("gd", f"{__name__}.gd:GD")
    register("llm_npo", f"{__name__}.llm_npo:LLMNPO")
    register("simnpo", f"{__name__}.simnpo:SimNPO")
    register("idk", f"{__name__}.idk:IdK")
    register("po", f"{__name__}.po:PO")
    register("idk_dpo", f"{__name__}.idk_dpo:IdkDPO")
    register("rmu", f"{__name__}.rmu:RMU")
    register("lumoe", f"{__name__}.lumoe:LUMoE")
    register("lumoe_npo", f"{__name__}.lumoe:LUMoENPO")


@hookimpl
def mu_register_routers(register):
    register("entity", "mu_registry.routing:EntityRouter")
    register("oracle", "mu_registry.routing:OracleRouter")
    register("trained", "mu_registry.routing:TrainedRouter")
