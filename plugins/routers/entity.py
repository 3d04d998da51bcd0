"""LUMoE's entity router, as released: fuzzy matching of the query's entity against every request's lists."""

from __future__ import annotations

from typing import Any

from mu_registry import EncodedQA, Router


class EntityRouter(Router):
    """LUMoE's released gate: the query's entity, fuzzily matched against every request's entity lists.

    MLUBench's release (``lihe-maxsize/Lifelong_Unlearning_main`` @ cf6579c8f16f88f9c694b42e79de685de61d32fa,
    ``LLaVA_unlearning_main.zip``): ``entity_extract.py`` asks an MLLM (GLM-4V) which entity the image and
    question describe, then ``find_most_similar_key_and_value`` takes, over the lists in ``tasks/all_tasks``
    (``taskX_forget`` and ``taskX_retain`` of every request, all four requests' lists at once: each row is
    labelled once, before any adapter is used), the list holding the highest-scoring fuzzy match
    (``fuzzywuzzy.process.extractOne``: WRatio on lower-cased, punctuation-stripped text; no threshold);
    ``LUMoE.py`` answers with request X's adapter when that list is ``taskX_forget``, else with the base
    model (a retain list, or an MLLM answer of "None").

    Here the router is given every request's lists before the first request (``plan``), in stream order,
    each forget list before its retain list (the first list wins a tie, as in the release, whose order is
    ``os.listdir``'s). A query whose best list is the forget list of a request not trained yet goes to the
    base model (its adapter does not exist yet). Without a plan the lists arrive with the experts
    (``add_expert``), which routes a later request's entities to an earlier expert: kept only for a caller
    that cannot give the stream.

    The MLLM extraction is stood in for by the task data: a known entity name the question mentions, else
    the row's entity label (the entity of its image, which an image question does not name). A name is
    *mentioned* when some run of as many whole words of the question as the name has matches it with
    ``fuzz.ratio`` >= ``mention_score`` (default 90), both lower-cased with punctuation turned into spaces
    (rapidfuzz's ``default_process``): "Cat" matches the word "cat" or "cat's", never "located" or
    "classification"; below 10 characters a name must be spelt exactly (one edit in 9 characters scores 88.9).
    Of several names mentioned the highest score wins, then the longer name, then the earlier list. The
    matching of the entity against the lists is ``rapidfuzz``'s WRatio with its default processor, as the
    release's. ``min_score`` > 0 sends a query whose best match scores below it to the base model (a variant;
    the release has no threshold).
    """

    def __init__(self, mention_score: float = 90.0, min_score: float = 0.0, **args: Any):
        super().__init__(mention_score=mention_score, min_score=min_score, **args)
        self.mention_score, self.min_score = mention_score, min_score
        self.lists: list[tuple[str | None, list[str]]] = []  # (expert or None for a retain list, entity names)
        self.trained: set[str] = set()
        self._lists_changed()

    def _lists_changed(self) -> None:
        # number of words -> (names processed, names as given, position in the lists)
        self._names: dict[int, tuple[list[str], list[str], list[int]]] | None = None
        self._extracted: dict[tuple[str, str], str] = {}
        self._matched: dict[str, str | None] = {}

    @staticmethod
    def _lists_of(name: str, forget: EncodedQA, retain: EncodedQA) -> list[tuple[str | None, list[str]]]:
        lists: list[tuple[str | None, list[str]]] = [(name, list(dict.fromkeys(forget.units)))]
        if len(retain):
            lists.append((None, list(dict.fromkeys(retain.units))))
        return lists

    def plan(self, requests):
        lists = [entry for name, forget, retain in requests for entry in self._lists_of(name, forget, retain)]
        if lists != self.lists:
            self.lists = lists
            self._lists_changed()

    def add_expert(self, name, forget, retain, features):
        self.trained.add(name)
        if all(expert != name for expert, _ in self.lists):  # not planned: its lists arrive with it
            self.lists += self._lists_of(name, forget, retain)
            self._lists_changed()

    @staticmethod
    def _words(text: str) -> str:
        from rapidfuzz import utils

        return " ".join(utils.default_process(text).split())

    def _by_length(self) -> dict[int, tuple[list[str], list[str], list[int]]]:
        if self._names is None:
            self._names = {}
            seen: set[str] = set()
            for _, names in self.lists:
                for name in names:
                    processed = self._words(name)
                    if not processed or processed in seen:
                        continue
                    seen.add(processed)
                    group = self._names.setdefault(len(processed.split()), ([], [], []))
                    group[0].append(processed)
                    group[1].append(name)
                    group[2].append(len(seen))
        return self._names

    def extract(self, question: str, unit: str) -> str:
        """The entity a query is about: a known name its question mentions (whole words), else its label."""
        key = (question, unit)
        if key not in self._extracted:
            self._extracted[key] = self._mentioned(question) or unit
        return self._extracted[key]

    def _mentioned(self, question: str) -> str | None:
        from rapidfuzz import fuzz, process

        words = self._words(question).split()
        best: tuple[float, int, int] | None = None
        found = None
        for k, (processed, given, order) in self._by_length().items():
            windows = list(dict.fromkeys(" ".join(words[i:i + k]) for i in range(len(words) - k + 1)))
            if not windows:
                continue
            scores = process.cdist(windows, processed, scorer=fuzz.ratio).max(axis=0)
            for j, score in enumerate(scores):
                rank = (float(score), len(processed[j]), -order[j])  # score, then the longer, then the earlier
                if score >= self.mention_score and (best is None or rank > best):
                    best, found = rank, given[j]
        return found

    def match_list(self, entity: str) -> str | None:
        """The expert whose forget list holds the best fuzzy match of ``entity`` (None: a retain list wins, or
        the best score is under ``min_score``), whether or not that expert exists yet."""
        from rapidfuzz import fuzz, process, utils

        if entity in self._matched:
            return self._matched[entity]
        best, best_score = None, -1.0
        for expert, names in self.lists:
            hit = process.extractOne(entity, names, scorer=fuzz.WRatio, processor=utils.default_process)
            if hit is not None and hit[1] > best_score:  # the first list wins a tie, as in the release
                best, best_score = expert, float(hit[1])
        self._matched[entity] = best if best_score >= self.min_score else None
        return self._matched[entity]

    def match(self, entity: str) -> str | None:
        """The expert that answers a query about ``entity``: its list's expert once trained, else the base."""
        expert = self.match_list(entity)
        return expert if expert in self.trained else None

    def route(self, data, features):
        return [self.match(self.extract(q, u)) for q, u in zip(data.questions, data.units)]

    def state(self):
        return {"lists": [[e, list(n)] for e, n in self.lists], "trained": sorted(self.trained)}

    def load_state(self, state):
        self.lists = [(e, list(n)) for e, n in state["lists"]]
        # a checkpoint from before plans held the lists of trained experts only
        self.trained = set(state.get("trained", [e for e, _ in self.lists if e is not None]))
        self._lists_changed()
