"""Package discovery (the metadata is in pyproject.toml).

``plugins/`` and ``tasks/`` are installed under the import names ``mu_registry_plugins`` and
``mu_registry_tasks`` (``package-dir`` in pyproject.toml), which ``[tool.setuptools.packages.find]``
cannot express; so every package below them and below ``mu_registry/`` is found here instead of
being listed by hand (a hand-written list once left ``mu_registry.evaluation.engines`` out of the wheel).
"""

from setuptools import find_namespace_packages, setup


SKIP = ["*__pycache__*"]


def discover() -> list[str]:
    """Folders that hold only data (task YAML, references, lm-eval tasks) count as packages too, so
    setuptools ships their files as package data without warnings."""
    packages = find_namespace_packages(include=["mu_registry", "mu_registry.*"], exclude=SKIP)
    for import_name, folder in (("mu_registry_plugins", "plugins"), ("mu_registry_tasks", "tasks")):
        packages += [import_name] + [f"{import_name}.{sub}" for sub in find_namespace_packages(folder, exclude=SKIP)]
    return packages


setup(packages=discover())
