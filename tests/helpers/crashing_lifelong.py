"""Run (or resume) a lifelong run whose LUMoE hard-exits after unlearning request MU_TEST_CRASH_AT.

Usage: crashing_lifelong.py RUN_DIR TASK_FOLDER [--resume]
``os._exit`` ends the process at once, like SIGKILL: nothing gets to clean up.
"""

import os
import sys
import types
from pathlib import Path

from mu_registry import hookimpl
from mu_registry.registry import Registry
from mu_registry.runner import RunConfig, Runner
from mu_registry_plugins.methods.lumoe import LUMoE


class CrashingLUMoE(LUMoE):
    def unlearn(self, ctx):
        model = super().unlearn(ctx)
        if os.environ.get("MU_TEST_CRASH_AT") == str(ctx.request_index):
            os._exit(137)
        return model


@hookimpl
def mu_register_methods(register):
    register("crashy/lumoe", CrashingLUMoE)


run_dir, folder = Path(sys.argv[1]), sys.argv[2]
registry = Registry(extra_plugins=[("crashy", types.SimpleNamespace(mu_register_methods=mu_register_methods))])
if "--resume" in sys.argv:
    runner = Runner.resume(run_dir, registry)
else:
    runner = Runner(RunConfig(tasks=["lifelong-tiny"], methods=["ga", "crashy/lumoe"], include_paths=[folder]),
                    registry, run_dir=run_dir)
runner.run()
