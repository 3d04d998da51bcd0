"""Built-in task YAML files (importable as ``mu_registry_tasks``); registers this folder."""

from pathlib import Path

from mu_registry import hookimpl


@hookimpl
def mu_register_tasks(register):
    register(Path(__file__).parent)
