"""A generated world of entities: the offline stand-in for MLUBench and PULSE (groundwork for issue 4).

MLUBench's 127 entities fall in 9 classes; each entity here has a generated name, several
distinct generated images, and five facts. Each fact is asked through five question templates,
each with several paraphrases, in two forms: *multimodal* (an image and "the <thing> in this
image") and *text-only* (the entity's name) -- PULSE's two probes of the same fact. Every entity
belongs to a learning phase, ``pretrain`` or ``finetune``, so that PULSE's two scenarios
(forgetting pre-trained vs fine-tuned knowledge) can be staged. Deterministic for a seed.

Images: each class has a shape motif, each entity its own colours, size and place; each image of
an entity moves, rescales and adds noise, so images of one entity are alike but not equal.
"""

from __future__ import annotations

import numpy as np

from mu_registry import MuError, Split

CLASSES = ("Animals", "Astronomy", "Buildings", "Cartoon", "Corporation logos", "Movies", "Personage",
           "Plants", "TV series")
NOUNS = ("animal", "celestial object", "building", "cartoon character", "logo", "movie", "person", "plant",
         "TV series")
ATTRIBUTES = ("origin", "colour", "year", "associate", "feature")
TEMPLATES = {  # attribute -> paraphrases; {s} is the subject
    "origin": ("Where does {s} come from?", "What is the place of origin of {s}?",
               "From which place does {s} originate?", "Name the place {s} comes from."),
    "colour": ("What colour is {s} known for?", "Which colour is most associated with {s}?",
               "Name the colour that goes with {s}.", "What is the signature colour of {s}?"),
    "year": ("In which year did {s} first appear?", "When did {s} first become known?",
             "What year is {s} first recorded in?", "Name the year {s} appeared."),
    "associate": ("Who is most closely linked with {s}?", "Which person is associated with {s}?",
                  "Name the person connected to {s}.", "Who is {s} associated with?"),
    "feature": ("What is {s} best known for?", "What is the most famous feature of {s}?",
                "Name what {s} is known for.", "For what is {s} famous?"),
}
COLOURS = ("red", "blue", "green", "yellow", "purple", "orange", "white", "black", "silver", "teal")
FEATURES = ("its speed", "its size", "its song", "its light", "its shape", "its age", "its height", "its voice",
            "its scent", "its pattern", "its strength", "its rarity")
_SYLLABLES = ("ka", "lo", "mi", "ra", "ten", "vo", "shi", "dor", "an", "bel", "qu", "zar", "ny", "pe", "lux", "ori",
              "sa", "fen", "gal", "tho")


def _name(rng: np.random.Generator, parts: int) -> str:
    return "".join(rng.choice(_SYLLABLES, size=parts)).capitalize()


def _motif(class_index: int, size: int) -> np.ndarray:
    """A class's shape as a mask on a size×size grid (circle, square, triangle, cross, ring, ...)."""
    y, x = np.mgrid[0:size, 0:size] / (size - 1) * 2 - 1
    r = np.sqrt(x ** 2 + y ** 2)
    shapes = (r < 0.7, (abs(x) < 0.6) & (abs(y) < 0.6), (y > -0.6) & (abs(x) < (y + 0.6) / 1.6),
              (abs(x) < 0.2) | (abs(y) < 0.2), (r < 0.8) & (r > 0.45), abs(x) + abs(y) < 0.8,
              (np.floor((x + 1) * 3) % 2 == 0), ((np.floor((x + 1) * 3) + np.floor((y + 1) * 3)) % 2 == 0),
              (abs(x) < 0.25) & (y < 0.7) | ((y > 0.3) & (y < 0.7) & (abs(x) < 0.7)))
    return shapes[class_index % len(shapes)].astype(np.float32)


def _image(motif: np.ndarray, fg: np.ndarray, bg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    shifted = np.roll(motif, shift=tuple(rng.integers(-2, 3, size=2)), axis=(0, 1))
    if rng.random() < 0.5:
        shifted = shifted[:, ::-1]
    img = bg[:, None, None] * (1 - shifted) + fg[:, None, None] * shifted
    img = img * rng.uniform(0.85, 1.15) + rng.normal(0, 12, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def entity_world(entities: int = 127, images_per_entity: int = 3, image_size: int = 16, paraphrases: int = 4,
                 finetune_fraction: float = 0.5, train_paraphrases: int = 1, seed: int = 0) -> dict[str, Split]:
    """Splits ``train`` (the first ``train_paraphrases`` paraphrases of every probe: the knowledge as
    taught) and ``test`` (the other paraphrases: does forgetting generalise?).

    Columns: ``entity``, ``entity_class``, ``class_index``, ``image`` (uint8 3×S×S), ``image_index``,
    ``question``, ``answer``, ``attribute``, ``form`` (``multimodal`` | ``text``), ``phase``
    (``pretrain`` | ``finetune``), ``paraphrase``. Ids are stable row numbers.
    """
    if entities < len(CLASSES):
        raise MuError(f"entity_world: entities must be at least {len(CLASSES)} (one per class), got {entities}")
    if not 2 <= paraphrases <= 4:
        raise MuError(f"entity_world: paraphrases must be 2-4, got {paraphrases}")
    if not 1 <= train_paraphrases < paraphrases:
        raise MuError(f"entity_world: train_paraphrases must be 1-{paraphrases - 1}, got {train_paraphrases}")
    rng = np.random.default_rng(seed)
    names: set[str] = set()
    rows: dict[str, list] = {k: [] for k in ("entity", "entity_class", "class_index", "image", "image_index",
                                             "question", "answer", "attribute", "form", "phase", "paraphrase")}
    order = rng.permutation(entities)
    finetune = set(order[:int(round(entities * finetune_fraction))].tolist())
    for e in range(entities):
        c = e % len(CLASSES)
        name = _name(rng, 2 + int(rng.integers(0, 2)))
        while name in names:
            name = _name(rng, 3)
        names.add(name)
        facts = {"origin": _name(rng, 2) + rng.choice([" Valley", " Isles", " City", " Plains"]),
                 "colour": str(rng.choice(COLOURS)), "year": str(int(rng.integers(1850, 2021))),
                 "associate": f"{_name(rng, 2)} {_name(rng, 2)}", "feature": str(rng.choice(FEATURES))}
        motif = _motif(c, image_size)
        fg, bg = rng.integers(60, 256, 3).astype(np.float32), rng.integers(0, 120, 3).astype(np.float32)
        images = [_image(motif, fg, bg, rng) for _ in range(images_per_entity)]
        for attribute in ATTRIBUTES:
            for p in range(paraphrases):
                template = TEMPLATES[attribute][p]
                for form in ("multimodal", "text"):
                    k = int(rng.integers(0, images_per_entity))
                    subject = f"the {NOUNS[c]} in this image" if form == "multimodal" else name
                    question = template.format(s=subject)
                    rows["entity"].append(name)
                    rows["entity_class"].append(CLASSES[c])
                    rows["class_index"].append(c)
                    rows["image"].append(images[k])
                    rows["image_index"].append(k)
                    rows["question"].append(question[0].upper() + question[1:])
                    rows["answer"].append(facts[attribute])
                    rows["attribute"].append(attribute)
                    rows["form"].append(form)
                    rows["phase"].append("finetune" if e in finetune else "pretrain")
                    rows["paraphrase"].append(p)
    cols = {k: (np.stack(v) if k == "image" else np.asarray(v) if k in ("class_index", "image_index", "paraphrase")
                else v) for k, v in rows.items()}
    para = cols["paraphrase"]
    out = {}
    for split, keep in (("train", para < train_paraphrases), ("test", para >= train_paraphrases)):
        idx = np.flatnonzero(keep)
        out[split] = Split(split, {k: (v[idx] if isinstance(v, np.ndarray) else [v[i] for i in idx])
                                   for k, v in cols.items()}, idx.astype(np.int64))
    return out
