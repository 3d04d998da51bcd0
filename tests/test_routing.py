"""LUMoE's routers on hand-made features: where each query goes, the confidence threshold, and a state that
survives a checkpoint (the resumed router routes exactly as the original one)."""

from __future__ import annotations

import numpy as np

from mu_registry.qa import EncodedQA
from mu_registry.registry import Registry


def _qa(units: list[str]) -> EncodedQA:
    n = len(units)
    return EncodedQA("s", [[1]] * n, [[2]] * n, ["a"] * n, ["q"] * n, [None] * n, units, ["text"] * n,
                     np.arange(n))


CENTRES = {"u1": (4.0, 0.0), "u2": (0.0, 4.0), "r": (-4.0, -4.0), "far": (3.0, 3.0)}


def _features(data: EncodedQA) -> np.ndarray:
    rng = np.random.default_rng(len(data))
    return np.asarray([CENTRES[u] for u in data.units]) + rng.normal(0, 0.5, (len(data), 2))


def test_oracle_and_trained_routers_and_their_state():
    reg = Registry()
    forget1, forget2, retain = _qa(["u1"] * 20), _qa(["u2"] * 20), _qa(["r"] * 20)
    for name in ("oracle", "trained"):
        router = reg.router(name)()
        router.add_expert("expert_0", forget1, retain, _features)
        router.add_expert("expert_1", forget2, retain, _features)
        queries = _qa(["u1"] * 5 + ["u2"] * 5 + ["r"] * 5)
        routes = router.route(queries, _features)
        assert routes == ["expert_0"] * 5 + ["expert_1"] * 5 + [None] * 5, (name, routes)
        again = reg.router(name)()
        again.load_state(router.state())
        assert again.route(queries, _features) == routes

    # a query between two experts: routed when no threshold is set, kept on the base with a high one
    loose, strict = reg.router("trained")(), reg.router("trained")(min_confidence=0.99)
    for r in (loose, strict):
        r.add_expert("expert_0", forget1, retain, _features)
        r.add_expert("expert_1", forget2, retain, _features)
    between = _qa(["far"] * 10)
    assert all(x is not None for x in loose.route(between, _features))
    assert sum(x is None for x in strict.route(between, _features)) >= 8


def _named(units: list[str], questions: list[str]) -> EncodedQA:
    n = len(units)
    return EncodedQA("s", [[1]] * n, [[2]] * n, ["a"] * n, questions, [None] * n, units, ["text"] * n, np.arange(n))


def test_entity_router_matches_entities_fuzzily_as_the_release():
    reg = Registry()
    router = reg.router("entity")()
    image_q = "Where does the animal in this image come from?"
    router.add_expert("expert_0", _named(["Luxlo", "Dorbeltho"], [image_q] * 2), _named(["Kaori"], [image_q]), None)
    router.add_expert("expert_1", _named(["Peori"], [image_q]), _named(["Zardor"], [image_q]), None)
    queries = _named(["Luxlo", "Dorbeltho", "Peori", "Kaori", "Zardor", "Galfen", "Luxla"],
                     [image_q,  # an image question: its entity comes from the task data
                      "When did Dorbeltho first become known?",
                      "Name the year Peori appeared.",
                      image_q, "When did Zardor first become known?",
                      # a question naming a known forget entity routes by the name, whatever the row's label
                      "When did Peori first become known?",
                      image_q])  # an unknown entity: the closest name wins, no threshold (Luxla ~ Luxlo)
    routes = router.route(queries, None)
    assert routes == ["expert_0", "expert_0", "expert_1", None, None, "expert_1", "expert_0"], routes
    # the variant with a threshold keeps a weak match on the base model
    strict = reg.router("entity")(min_score=95)
    strict.load_state(router.state())
    assert strict.route(queries, None)[-1] is None
    again = reg.router("entity")()
    again.load_state(router.state())
    assert again.route(queries, None) == routes
