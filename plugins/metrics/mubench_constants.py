"""MU-Bench's reference constants for its overall score: chance accuracy per dataset, and the original
model's test accuracy per dataset and backbone.

Read from ``CLU-UML/MU-Bench`` at commit 48f5c7b (``mubench/original_performance.py``, dictionary
``orig_acc``: ``random`` and ``[backbone]['dt']``), with the Hugging Face ids of its backbone names from
``mubench/__init__.py`` (``model_map_rev``) at the same commit. Only the entries used by this project's
real MU-Bench tasks are listed; a task or backbone not listed falls back to measured values (see
:mod:`.mubench_overall`).
"""

from __future__ import annotations

from dataclasses import dataclass

#: this project's task name -> MU-Bench's dataset key in ``orig_acc``
TASK_DATASET = {
    "mubench-cifar100": "cifar100",
    "mubench-imdb": "imdb",
    "mubench-ddi2013": "ddi",
    "mubench-nlvr2": "nlvr2",
}

#: ``orig_acc[dataset]['random']``; MU-Bench takes NLVR2 as 3-way (``num_classes_map['nlvr2'] = 3``)
RANDOM = {"cifar100": 1 / 100, "imdb": 1 / 2, "ddi": 1 / 5, "nlvr2": 1 / 3}

#: ``orig_acc[dataset][backbone]['dt']``
ORIGINAL_TEST = {
    "cifar100": {"resnet-50": 0.8328, "swin-tiny": 0.8714, "swin-base": 0.9301, "vit-base": 0.922,
                 "vit-large": 0.9356},
    "imdb": {"bert-base": 0.88608, "bert-large": 0.89004, "roberta-base": 0.90164, "roberta-large": 0.9126,
             "electra-base": 0.90932},
    "ddi": {"biobert": 0.9457662701189643, "pubmedbert-abstract": 0.9522393282015396,
            "pubmedbert-fulltext": 0.950664800559832},
    "nlvr2": {"vilt": 0.765178699583752},
}

#: Hugging Face id -> MU-Bench backbone name (``model_map_rev``; ``google-bert/...`` is the Hub's current
#: name of ``bert-base-uncased``, the same checkpoint)
BACKBONES = {
    "google/vit-base-patch16-224-in21k": "vit-base",
    "google/vit-large-patch16-224-in21k": "vit-large",
    "microsoft/resnet-50": "resnet-50",
    "microsoft/swin-tiny-patch4-window7-224": "swin-tiny",
    "microsoft/swin-base-patch4-window7-224": "swin-base",
    "bert-base-uncased": "bert-base",
    "google-bert/bert-base-uncased": "bert-base",
    "bert-large-uncased": "bert-large",
    "google-bert/bert-large-uncased": "bert-large",
    "FacebookAI/roberta-base": "roberta-base",
    "FacebookAI/roberta-large": "roberta-large",
    "google/electra-base-discriminator": "electra-base",
    "dmis-lab/biobert-v1.1": "biobert",
    "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract": "pubmedbert-abstract",
    "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract-fulltext": "pubmedbert-fulltext",
    "dandelin/vilt-b32-finetuned-nlvr2": "vilt",
}


@dataclass(frozen=True)
class Constants:
    """``dt_orig`` and ``random`` for one task, and whether each is MU-Bench's published value."""

    dt_orig: float | None  # None: use the measured original model's test accuracy
    random: float | None  # None: use 1 / num_classes
    dataset: str | None = None
    backbone: str | None = None


def lookup(task: str | None, pretrained: str | None) -> Constants:
    """MU-Bench's constants for a task and backbone, where it publishes them."""
    dataset = TASK_DATASET.get(task or "")
    if dataset is None:
        return Constants(None, None)
    backbone = BACKBONES.get(pretrained or "")
    dt = ORIGINAL_TEST[dataset].get(backbone) if backbone else None
    return Constants(dt, RANDOM[dataset], dataset, backbone if dt is not None else None)
