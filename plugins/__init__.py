"""Built-in mu-registry plugins (importable as ``mu_registry_plugins``).

They are registered through the ``mu_registry`` entry-point group in
``pyproject.toml``, exactly as a third-party package registers its own.
"""
