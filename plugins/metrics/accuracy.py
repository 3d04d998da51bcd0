"""Accuracy on every evaluation set (forget, retain, test, ...)."""

from mu_registry import SetOutputs, per_set


@per_set
def accuracy(out: SetOutputs) -> float:
    """Fraction of examples whose top class is the label."""
    return out.accuracy()
