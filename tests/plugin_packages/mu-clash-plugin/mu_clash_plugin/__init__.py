"""Registers 'neggrad' (which the built-in plugin registers too) and a method of its own."""

from mu_registry import Method, UnlearnContext, hookimpl


class Unchanged(Method):
    """Returns the model unchanged."""

    def unlearn(self, ctx: UnlearnContext):
        return ctx.model


@hookimpl
def mu_register_methods(register):
    register("neggrad", Unchanged)
    register("clash/unchanged", Unchanged)
