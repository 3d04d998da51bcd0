"""Built-in metrics.

Each is registered by import path (``module:Attribute``) and imported when a run first uses it.
"""

from mu_registry import hookimpl


@hookimpl
def mu_register_metrics(register):
    register("accuracy", f"{__name__}.accuracy:accuracy")
    register("f1", f"{__name__}.f1:f1")
    register("gap_to_retrain", f"{__name__}.gap:gap_to_retrain")
    register("gap_to_retrain_salun", f"{__name__}.gap:gap_to_retrain_salun")
    register("mia", f"{__name__}.mia:mia")
    register("mia_svc", f"{__name__}.mia:mia_svc")
    register("zrf", f"{__name__}.zrf:zrf")
    register("zrf_chundawat", f"{__name__}.zrf:zrf_chundawat")
    register("mubench_overall", f"{__name__}.mubench_overall:mubench_overall")
    register("knowledge_gap", f"{__name__}.knowledge_gap:knowledge_gap")
