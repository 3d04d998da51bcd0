"""LUMoE's oracle router: routes by the entity label of the query (an upper bound)."""

from __future__ import annotations

from typing import Any

from mu_registry import Router


class OracleRouter(Router):
    """Routes a query to the expert whose forget set is about the query's entity."""

    def __init__(self, **args: Any):
        super().__init__(**args)
        self.owner: dict[str, str] = {}

    def add_expert(self, name, forget, retain, features):
        for unit in forget.units:
            self.owner.setdefault(unit, name)

    def route(self, data, features):
        return [self.owner.get(u) for u in data.units]

    def state(self):
        return {"owner": dict(self.owner)}

    def load_state(self, state):
        self.owner = dict(state["owner"])
