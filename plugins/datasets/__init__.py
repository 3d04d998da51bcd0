"""Built-in named dataset builders for offline tasks."""

from mu_registry import hookimpl

from .digits import digits
from .entity_world import entity_world
from .fashion_mnist import fashion_mnist
from .fortunes import fortunes
from .image_pairs import image_pairs
from .mllmu_bench import mllmu_bench
from .mlubench import mlubench_release
from .moving_digits import moving_digits
from .spoken_keywords import spoken_keywords
from .world_facts import world_facts


@hookimpl
def mu_register_datasets(register):
    register("fashion_mnist", fashion_mnist)
    register("digits", digits)
    register("fortunes", fortunes)
    register("spoken_keywords", spoken_keywords)
    register("moving_digits", moving_digits)
    register("image_pairs", image_pairs)
    register("entity_world", entity_world)
    register("mlubench_release", mlubench_release)
    register("mllmu_bench", mllmu_bench)
    register("world_facts", world_facts)
