"""Run (or resume) a run whose method hard-exits mid-way when MU_TEST_CRASH_AT is set.

Usage: crashing_run.py RUN_DIR TASK_FOLDER [--resume] [--lifelong]
(``--lifelong``: task ``lifelong-tiny`` with GA and a crashing LUMoE; else ``seq3`` with a crashing
GA and fine-tuning).
``os._exit`` ends the process at once, like SIGKILL: nothing gets to clean up.
"""

import os
import sys
import types
from pathlib import Path

from mu_registry import hookimpl
from mu_registry.registry.manager import Registry
from mu_registry.run.runner import RunConfig, Runner
from mu_registry_plugins.methods.lumoe import LUMoE
from mu_registry_plugins.methods.ga import GA


def crashing(cls):
    class Crashing(cls):
        def unlearn(self, ctx):
            model = super().unlearn(ctx)
            if os.environ.get("MU_TEST_CRASH_AT") == str(ctx.request_index):
                os._exit(137)
            return model
    return Crashing


@hookimpl
def mu_register_methods(register):
    register("crashy/ga", crashing(GA))
    register("crashy/lumoe", crashing(LUMoE))


LIFELONG = "--lifelong" in sys.argv
TASK, METHODS = ("lifelong-tiny", ["ga", "crashy/lumoe"]) if LIFELONG else ("seq3", ["crashy/ga", "finetune"])


run_dir, folder = Path(sys.argv[1]), sys.argv[2]
registry = Registry(extra_plugins=[("crashy", types.SimpleNamespace(mu_register_methods=mu_register_methods))])
if "--resume" in sys.argv:
    runner = Runner.resume(run_dir, registry)
else:
    runner = Runner(RunConfig(tasks=[TASK], methods=METHODS, include_paths=[folder]), registry, run_dir=run_dir)
runner.run()
