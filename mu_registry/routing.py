"""Routers for LUMoE: which LoRA expert (if any) answers a query.

A router is told about each new expert (the request's forget and retain sets) and then routes
queries: an expert's name, or ``None`` for the base model. Routers are plugins
(``mu_register_routers``); built in:

* ``entity`` (LUMoE's default, as released): the query's entity matched by fuzzy string similarity
  against every request's entity lists (see :class:`EntityRouter`);
* ``oracle``: routes by the entity label of the query (an upper bound: the labels are not known
  to a deployed model);
* ``trained``: a logistic-regression classifier over the frozen base model's mean-pooled hidden
  state of the prompt (image tokens included), trained on every forget set so far (one class per
  expert) against every retain set so far (the base class).

A VLM- or API-based router is a plugin with the same three methods.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np

from .qa import EncodedQA

Features = Callable[[EncodedQA], np.ndarray]


class Router(ABC):
    def __init__(self, **args: Any):
        self.args = args

    @abstractmethod
    def add_expert(self, name: str, forget: EncodedQA, retain: EncodedQA, features: Features) -> None: ...

    @abstractmethod
    def route(self, data: EncodedQA, features: Features) -> list[str | None]: ...

    @abstractmethod
    def state(self) -> dict[str, Any]: ...

    @abstractmethod
    def load_state(self, state: dict[str, Any]) -> None: ...


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


class TrainedRouter(Router):
    """Logistic regression on frozen prompt features: expert classes vs the base model.

    ``min_confidence``: route to an expert only when the classifier gives it at least this
    probability. The router never sees entities outside the requests, so some of their queries land
    on an expert; raising the threshold trades that against missed forget queries (measured on
    mlubench-mini after 4 requests: at 0.5, 64% of untouched-entity queries stay on the base and
    72-82% of forget queries reach their expert; at 0.9, 87% and 20-40%).
    """

    BASE = "__base__"

    def __init__(self, C: float = 1.0, min_confidence: float = 0.0, **args: Any):
        super().__init__(C=C, min_confidence=min_confidence, **args)
        self.C, self.min_confidence = C, min_confidence
        self.x: list[np.ndarray] = []
        self.y: list[str] = []
        self.clf = None

    def add_expert(self, name, forget, retain, features):
        self.x += [features(forget), features(retain)]
        self.y += [name] * len(forget) + [self.BASE] * len(retain)
        self._fit()

    def _fit(self) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        x = np.concatenate([a for a in self.x if len(a)])
        if len(set(self.y)) < 2:  # nothing to retain: every known query goes to the one expert
            self.clf = None
            return
        self.clf = make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=2000))
        self.clf.fit(x, np.asarray(self.y))

    def route(self, data, features):
        if not len(data):
            return []
        if self.clf is None:
            return [self.y[0] if self.y else None] * len(data)
        proba = self.clf.predict_proba(features(data))
        classes = list(self.clf.classes_)
        best = proba.argmax(1)
        return [None if classes[k] == self.BASE or proba[i, k] < self.min_confidence else str(classes[k])
                for i, k in enumerate(best)]

    def state(self):
        return {"x": [a.tolist() for a in self.x], "y": list(self.y)}

    def load_state(self, state):
        self.x = [np.asarray(a, dtype=np.float32) for a in state["x"]]
        self.y = list(state["y"])
        if self.y:
            self._fit()


class EntityRouter(Router):
    """LUMoE's released gate: the query's entity, fuzzily matched against each request's entity lists.

    MLUBench's release (``lihe-maxsize/Lifelong_Unlearning_main`` @ cf6579c8f16f88f9c694b42e79de685de61d32fa,
    ``LLaVA_unlearning_main.zip``): ``entity_extract.py`` asks an MLLM (GLM-4V) which entity the image and
    question describe, then ``find_most_similar_key_and_value`` takes, over the lists in ``tasks/all_tasks``
    (``taskX_forget`` and ``taskX_retain`` of every request), the list holding the highest-scoring fuzzy
    match (``fuzzywuzzy.process.extractOne``: WRatio on lower-cased, punctuation-stripped text; no
    threshold); ``LUMoE.py`` answers with request X's adapter when that list is ``taskX_forget``, else with
    the base model (a retain list, or an MLLM answer of "None").

    The MLLM extraction is stood in for by the task data: an entity name the question mentions (a fuzzy
    partial match of at least ``mention_score`` against the names the router knows), else the row's
    entity label (the entity of its image, which an image question does not name). The matching is
    ``rapidfuzz``'s WRatio with its default processor, as the release's. ``min_score`` > 0 sends a query
    whose best match scores below it to the base model (a variant; the release has no threshold).
    """

    def __init__(self, mention_score: float = 90.0, min_score: float = 0.0, **args: Any):
        super().__init__(mention_score=mention_score, min_score=min_score, **args)
        self.mention_score, self.min_score = mention_score, min_score
        self.lists: list[tuple[str | None, list[str]]] = []  # (expert or None for a retain list, entity names)

    def add_expert(self, name, forget, retain, features):
        self.lists.append((name, list(dict.fromkeys(forget.units))))
        if len(retain):
            self.lists.append((None, list(dict.fromkeys(retain.units))))

    def extract(self, question: str, unit: str) -> str:
        """The entity a query is about: a known name its question mentions, else its entity label."""
        from rapidfuzz import fuzz, process, utils

        names = [n for _, names in self.lists for n in names]
        hit = process.extractOne(question, names, scorer=fuzz.partial_ratio, processor=utils.default_process,
                                 score_cutoff=self.mention_score) if names else None
        return str(hit[0]) if hit is not None else unit

    def match(self, entity: str) -> str | None:
        """The expert whose forget list holds the best fuzzy match of ``entity`` (None: a retain list wins)."""
        from rapidfuzz import fuzz, process, utils

        best, best_score = None, -1.0
        for expert, names in self.lists:
            hit = process.extractOne(entity, names, scorer=fuzz.WRatio, processor=utils.default_process)
            if hit is not None and hit[1] > best_score:  # the first list wins a tie, as in the release
                best, best_score = expert, float(hit[1])
        return best if best_score >= self.min_score else None

    def route(self, data, features):
        return [self.match(self.extract(q, u)) for q, u in zip(data.questions, data.units)]

    def state(self):
        return {"lists": [[e, list(n)] for e, n in self.lists]}

    def load_state(self, state):
        self.lists = [(e, list(n)) for e, n in state["lists"]]
