"""Errors that reach the user as one clear line.

Every error raised for bad input names what is at fault (a file and key, a
plugin, a name) so the CLI can print it on one line and exit non-zero.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class MuError(Exception):
    """Base class for errors shown to the user as one line (exit status 2)."""

    exit_code = 2


class ConfigError(MuError):
    """A task or group file is invalid. Names the file and the key at fault."""

    def __init__(self, source: str, key: str | None, problem: str):
        self.source = source
        self.key = key
        self.problem = problem
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {problem}")


class UnknownNameError(MuError):
    """A method, model, metric, task or dataset name that nothing registered."""

    def __init__(self, kind: str, name: str, known: Iterable[str], context: str | None = None):
        known = sorted(known)
        self.kind, self.name = kind, name
        hint = suggest(name, known)
        msg = f"unknown {kind} '{name}'"
        if hint:
            msg += f" (did you mean {hint}?)"
        elif known:
            shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
            msg += f"; known: {shown}"
        else:
            msg += f"; no {kind}s are registered"
        if context:
            msg = f"{context}: {msg}"
        super().__init__(msg)


class DuplicateNameError(MuError):
    """Two plugins registered the same name."""

    def __init__(self, kind: str, name: str, first: str, second: str):
        super().__init__(
            f"{kind} '{name}' is registered by both plugin '{first}' and plugin '{second}'; "
            f"disable one with MU_DISABLE_PLUGINS or namespace the name as 'package/{name}'"
        )


class NotApplicableError(MuError):
    """A method (or model) does not apply to a task."""


def suggest(name: str, known: Iterable[str]) -> str | None:
    """Return "'a'" or "'a' or 'b'" for names close to ``name``, else None."""
    matches = difflib.get_close_matches(name, list(known), n=2, cutoff=0.6)
    if not matches:
        return None
    return " or ".join(f"'{m}'" for m in matches)
