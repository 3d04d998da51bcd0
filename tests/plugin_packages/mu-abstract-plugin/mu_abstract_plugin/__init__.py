"""One usable method beside three registered classes that cannot be used."""

from dataclasses import dataclass

from mu_registry import Method, UnlearnContext, hookimpl


class Unfinished(Method):
    """Forgot to implement unlearn."""

    @dataclass
    class Params:
        lr: float = 0.1


class NotAMethod:
    """Does not subclass Method."""

    def unlearn(self, ctx):
        return ctx.model


class NoTaskType(Method):
    """Applies to no task type."""

    supports = frozenset()

    def unlearn(self, ctx: UnlearnContext):
        return ctx.model


class KeepAsIs(Method):
    """Returns the model unchanged (usable)."""

    def unlearn(self, ctx: UnlearnContext):
        return ctx.model


@hookimpl
def mu_register_methods(register):
    register("halfdone/unfinished", Unfinished)
    register("halfdone/not_a_method", NotAMethod)
    register("halfdone/no_task_type", NoTaskType)
    register("halfdone/keep", KeepAsIs)
    # registered by import path: checked when a run first resolves it
    register("halfdone/lazy_unfinished", "mu_abstract_plugin:Unfinished")
