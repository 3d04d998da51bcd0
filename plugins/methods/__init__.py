"""Built-in unlearning methods: one name per algorithm, one short file each (the loss is in the module
docstring). A method that exists for both task types is one name with an implementation per task type
(classification for MU-Bench, generation for MLUBench and PULSE), registered once per implementation.

Classification only: retrain, finetune, random_label, salun, bad_teacher, scrub, l1_sparse.
Both: ga, graddiff, npo. Generation only: simnpo, idk, po, idk_dpo, rmu, lumoe.

Old names still work for a release, with a one-line notice: neggrad (ga), gd (graddiff), llm_npo (npo),
ga_klr (graddiff with retain_loss: kl), lumoe_npo (lumoe with loss: npo, retain_weight: 1, router: trained).

Each is registered by import path (``module:Attribute``) and imported when a run first uses it.
"""

from mu_registry import hookimpl

#: lumoe_npo: the variant this harness ran as LUMoE before following the release
LUMOE_NPO = {"loss": "npo", "retain_weight": 1.0, "router": "trained"}


@hookimpl
def mu_register_methods(register):
    register("retrain", f"{__name__}.retrain:Retrain")
    register("finetune", f"{__name__}.finetune:Finetune")
    register("ga", f"{__name__}.ga:GA", deprecated_aliases=["neggrad"])
    register("ga", f"{__name__}.ga:GenerativeGA")
    register("graddiff", f"{__name__}.graddiff:GradDiff",
             deprecated_aliases={"gd": {}, "ga_klr": {"retain_loss": "kl"}})
    register("graddiff", f"{__name__}.graddiff:GenerativeGradDiff")
    register("npo", f"{__name__}.npo:NPO", deprecated_aliases=["llm_npo"])
    register("npo", f"{__name__}.npo:GenerativeNPO")
    register("random_label", f"{__name__}.random_label:RandomLabel")
    register("salun", f"{__name__}.salun:SalUn")
    register("bad_teacher", f"{__name__}.bad_teacher:BadTeacher")
    register("scrub", f"{__name__}.scrub:SCRUB")
    register("l1_sparse", f"{__name__}.l1_sparse:L1Sparse")
    register("simnpo", f"{__name__}.simnpo:SimNPO")
    register("idk", f"{__name__}.idk:IdK")
    register("po", f"{__name__}.po:PO")
    register("idk_dpo", f"{__name__}.idk_dpo:IdkDPO")
    register("rmu", f"{__name__}.rmu:RMU")
    register("lumoe", f"{__name__}.lumoe:LUMoE", deprecated_aliases={"lumoe_npo": LUMOE_NPO})
