"""LUMoE's routers on hand-made features: where each query goes, the confidence threshold, and a state that
survives a checkpoint (the resumed router routes exactly as the original one)."""

from __future__ import annotations

import numpy as np
import pytest

from mu_registry.api.qa import EncodedQA
from mu_registry.registry.manager import Registry

from conftest import SHARED

MLUBENCH = SHARED / "reference" / "mlubench"


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


# ---------------------------------------------------------------- the entity router as released, by hand
# MLUBench's release (lihe-maxsize/Lifelong_Unlearning_main @ cf6579c8f16f88f9c694b42e79de685de61d32fa,
# LLaVA_unlearning_main.zip): entity_extract.py labels every row once against all of tasks/all_tasks (each
# request's taskX_forget and taskX_retain list), taking the list with the best fuzzy match of the row's entity
# (find_most_similar_key_and_value); LUMoE.py answers with request X's adapter for taskX_forget, else the base.

def _lists() -> list[tuple[str, EncodedQA, EncodedQA]]:
    q = "What is shown in this image?"
    return [("expert_0", _named(["Cat", "Dog"], [q] * 2), _named(["Eiffel Tower"], [q])),
            ("expert_1", _named(["Big Ben", "Moai Statues"], [q] * 2), _named(["Sunflower"], [q]))]


def test_entity_router_names_are_matched_on_whole_words():
    router = Registry().router("entity")()
    router.plan(_lists())
    # "Cat" inside a word is no mention: the row keeps its own label (the substring match took "Cat")
    for question in ("Where is the Eiffel Tower located?", "What is its location?",
                     "What family or order categorizes this animal?", "What is its classification?"):
        assert router.extract(question, "Big Ben") == ("Eiffel Tower" if "Eiffel" in question else "Big Ben")
    # whole words, punctuation as spaces (rapidfuzz default_process): "cat's" names the cat
    assert router.extract("What does a cat's diet consist of?", "Dog") == "Cat"
    assert router.extract("How tall are the moai statues?", "Cat") == "Moai Statues"
    # fuzz.ratio >= 90 over as many words as the name has: one letter off in "Sunflowers" (9 of 10: 94.7)
    # is a mention; a plural of a short name is not ("cats" vs "cat": 2*3/7 = 85.7)
    assert router.extract("Why do sunflowers follow the sun?", "Dog") == "Sunflower"
    assert router.extract("Do cats purr?", "Dog") == "Dog"
    # several names: the highest score, then the longer name
    assert router.extract("Is the Big Ben taller than a dog?", "Cat") == "Big Ben"


def test_entity_router_knows_every_request_from_the_start_and_sends_an_untrained_one_to_the_base():
    reg = Registry()
    router = reg.router("entity")()
    router.plan(_lists())
    queries = _named(["Cat", "Eiffel Tower", "Big Ben", "Sunflower", "Moai Statues"],
                     ["What is shown in this image?", "Where is the Eiffel Tower located?",
                      "When was it built?", "What is shown in this image?", "How tall are the moai statues?"])
    assert router.route(queries, None) == [None] * 5  # no expert trained yet
    router.add_expert("expert_0", *_lists()[0][1:], None)
    # request 2's forget entities (Big Ben, Moai Statues) are on its list already: the base answers them
    # until expert_1 exists, never expert_0; the Eiffel Tower question (retain list of request 1) is the base's
    assert router.route(queries, None) == ["expert_0", None, None, None, None]
    again = reg.router("entity")()
    again.load_state(router.state())
    assert again.route(queries, None) == ["expert_0", None, None, None, None]
    router.add_expert("expert_1", *_lists()[1][1:], None)
    assert router.route(queries, None) == ["expert_0", None, "expert_1", None, "expert_1"]


@pytest.mark.skipif(not MLUBENCH.exists(), reason="../shared/reference/mlubench is missing")
def test_entity_router_on_the_release_rows_sends_each_row_to_its_own_list():
    """MLUBench's own rows (Tasks/TaskA-D): after every request, each forget row reaches its request's expert
    once that exists (the base before) and every retain row stays on the base. Before, 240 of Task B's 2,154
    forget rows (84 of its 450 originals) went to Task A's expert through "Cat" in "located"/"categorizes"."""
    from mu_registry_plugins.datasets.mlubench import mlubench_release

    splits = mlubench_release(str(MLUBENCH))

    def encoded(split) -> EncodedQA:
        return _named([str(u) for u in split.columns["entity"]], [str(q) for q in split.columns["question"]])

    sets = {(t, part): encoded(splits[f"task{t}_{part}"]) for t in "ABCD" for part in ("forget", "retain")}
    router = Registry().router("entity")()
    router.plan([(f"expert_{i}", sets[(t, "forget")], sets[(t, "retain")]) for i, t in enumerate("ABCD")])
    for i, t in enumerate("ABCD"):
        router.add_expert(f"expert_{i}", sets[(t, "forget")], sets[(t, "retain")], None)
        for j, t2 in enumerate("ABCD"):
            forget = router.route(sets[(t2, "forget")], None)
            assert set(forget) == {f"expert_{j}" if j <= i else None}, (t, t2, set(forget))
            assert set(router.route(sets[(t2, "retain")], None)) == {None}, (t, t2)
