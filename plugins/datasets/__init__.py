"""Built-in named dataset builders for offline tasks.

Each is registered by import path (``module:Attribute``) and imported when a run first uses it.
"""

from mu_registry import hookimpl


@hookimpl
def mu_register_datasets(register):
    register("fashion_mnist", f"{__name__}.fashion_mnist:fashion_mnist")
    register("digits", f"{__name__}.digits:digits")
    register("fortunes", f"{__name__}.fortunes:fortunes")
    register("spoken_keywords", f"{__name__}.spoken_keywords:spoken_keywords")
    register("moving_digits", f"{__name__}.moving_digits:moving_digits")
    register("image_pairs", f"{__name__}.image_pairs:image_pairs")
    register("entity_world", f"{__name__}.entity_world:entity_world")
    register("mlubench_release", f"{__name__}.mlubench:mlubench_release")
    register("mllmu_bench", f"{__name__}.mllmu_bench:mllmu_bench")
    register("world_facts", f"{__name__}.world_facts:world_facts")
