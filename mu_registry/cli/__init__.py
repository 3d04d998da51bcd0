"""The `mu-eval` command (`mu_registry.cli.main:main`): parse, call one stage, print."""
