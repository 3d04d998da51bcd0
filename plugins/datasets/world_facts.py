"""Real-world facts a pretrained language model already knows: the offline "pre-trained knowledge" for
PULSE's first scenario at the SmolLM2 scale (``pulse-smol-pretrained``).

Forty countries, each with its capital, continent, currency and main language (public, stable facts),
asked with three paraphrases per fact, as a text probe (the country's name) and as a multimodal probe
(a generated flag-like image and "the country whose flag is shown"). Nothing here was learned from
this data by the model: which facts it knows is measured (``lifelong.select_known``).
"""

from __future__ import annotations

import numpy as np

from mu_registry import Split

COUNTRIES = {  # country: (capital, continent, currency, language)
    "France": ("Paris", "Europe", "euro", "French"), "Germany": ("Berlin", "Europe", "euro", "German"),
    "Italy": ("Rome", "Europe", "euro", "Italian"), "Spain": ("Madrid", "Europe", "euro", "Spanish"),
    "Portugal": ("Lisbon", "Europe", "euro", "Portuguese"), "Greece": ("Athens", "Europe", "euro", "Greek"),
    "Poland": ("Warsaw", "Europe", "zloty", "Polish"), "Sweden": ("Stockholm", "Europe", "krona", "Swedish"),
    "Norway": ("Oslo", "Europe", "krone", "Norwegian"), "Russia": ("Moscow", "Europe", "ruble", "Russian"),
    "United Kingdom": ("London", "Europe", "pound", "English"), "Ireland": ("Dublin", "Europe", "euro", "English"),
    "Austria": ("Vienna", "Europe", "euro", "German"), "Hungary": ("Budapest", "Europe", "forint", "Hungarian"),
    "Japan": ("Tokyo", "Asia", "yen", "Japanese"), "China": ("Beijing", "Asia", "yuan", "Chinese"),
    "India": ("New Delhi", "Asia", "rupee", "Hindi"), "South Korea": ("Seoul", "Asia", "won", "Korean"),
    "Thailand": ("Bangkok", "Asia", "baht", "Thai"), "Vietnam": ("Hanoi", "Asia", "dong", "Vietnamese"),
    "Indonesia": ("Jakarta", "Asia", "rupiah", "Indonesian"), "Turkey": ("Ankara", "Asia", "lira", "Turkish"),
    "Iran": ("Tehran", "Asia", "rial", "Persian"), "Egypt": ("Cairo", "Africa", "pound", "Arabic"),
    "Kenya": ("Nairobi", "Africa", "shilling", "Swahili"), "Nigeria": ("Abuja", "Africa", "naira", "English"),
    "Morocco": ("Rabat", "Africa", "dirham", "Arabic"),
    "Ethiopia": ("Addis Ababa", "Africa", "birr", "Amharic"),
    "South Africa": ("Pretoria", "Africa", "rand", "Zulu"), "Ghana": ("Accra", "Africa", "cedi", "English"),
    "United States": ("Washington", "North America", "dollar", "English"),
    "Canada": ("Ottawa", "North America", "dollar", "English"),
    "Mexico": ("Mexico City", "North America", "peso", "Spanish"),
    "Cuba": ("Havana", "North America", "peso", "Spanish"),
    "Brazil": ("Brasilia", "South America", "real", "Portuguese"),
    "Argentina": ("Buenos Aires", "South America", "peso", "Spanish"),
    "Peru": ("Lima", "South America", "sol", "Spanish"), "Chile": ("Santiago", "South America", "peso", "Spanish"),
    "Australia": ("Canberra", "Oceania", "dollar", "English"),
    "New Zealand": ("Wellington", "Oceania", "dollar", "English"),
}
TEMPLATES = {
    "capital": ("What is the capital of {s}?", "Which city is the capital of {s}?", "Name the capital city of {s}."),
    "continent": ("On which continent is {s}?", "Which continent is {s} part of?", "Name the continent of {s}."),
    "currency": ("What is the currency of {s}?", "Which currency is used in {s}?", "Name the money of {s}."),
    "language": ("What is the main language of {s}?", "Which language do most people speak in {s}?",
                 "Name the main language spoken in {s}."),
}


def _flag(rng: np.random.Generator, size: int) -> np.ndarray:
    """Three generated stripes (a flag-like picture, one per country), uint8 3×size×size."""
    colours = rng.integers(0, 256, (3, 3))
    img = np.zeros((3, size, size), np.uint8)
    horizontal = rng.random() < 0.5
    for k in range(3):
        band = slice(k * size // 3, (k + 1) * size // 3 if k < 2 else size)
        if horizontal:
            img[:, band, :] = colours[k][:, None, None]
        else:
            img[:, :, band] = colours[k][:, None, None]
    return img


def world_facts(image_size: int = 16, train_paraphrases: int = 1, seed: int = 0) -> dict[str, Split]:
    """Splits ``train`` (the first ``train_paraphrases`` paraphrases: what the requests name) and ``test``
    (the others). Columns: question, answer, image, form, entity, attribute, paraphrase."""
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {k: [] for k in ("question", "answer", "image", "form", "entity", "attribute",
                                             "paraphrase")}
    for country, facts in COUNTRIES.items():
        flag = _flag(rng, image_size)
        for attribute, answer in zip(TEMPLATES, facts):
            for p, template in enumerate(TEMPLATES[attribute]):
                for form in ("text", "multimodal"):
                    subject = country if form == "text" else "the country whose flag is shown"
                    rows["question"].append(template.format(s=subject))
                    rows["answer"].append(answer)
                    rows["image"].append(flag if form == "multimodal" else None)
                    rows["form"].append(form)
                    rows["entity"].append(country)
                    rows["attribute"].append(attribute)
                    rows["paraphrase"].append(p)
    para = np.asarray(rows["paraphrase"])
    out = {}
    for name, keep in (("train", para < train_paraphrases), ("test", para >= train_paraphrases)):
        idx = np.flatnonzero(keep)
        out[name] = Split(name, {k: [v[i] for i in idx] for k, v in rows.items()}, idx.astype(np.int64))
    return out
