"""The one place where problems with user input become messages.

Every problem a user can cause is a `Problem`: a source position and a message, printed as
``file:line:col: message``. Loading collects as many problems as it can and raises them together
as one `SpecError`; the CLI prints each on its own line and exits with status 2.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class Pos(NamedTuple):
    """A place in a source file; line and col are 1-based, as editors show them.

    A named tuple rather than a dataclass: the loader makes one for every value it reads."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True, order=True)
class Problem:
    pos: Pos
    message: str

    def __str__(self) -> str:
        # one line, always: a message that spans lines would break `file:line:col:` tooling;
        # control characters (a NUL in a $ref, found by fuzzing) are shown escaped
        text = f"{self.pos}: {' '.join(self.message.split())}"
        return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class Yadage2xError(Exception):
    """Base of every error this project raises on purpose (the CLI maps these to exit 2)."""


class SpecError(Yadage2xError):
    """One or more problems in the user's workflow or step specs."""

    def __init__(self, problems: list[Problem] | Problem):
        if isinstance(problems, Problem):
            problems = [problems]
        # sorted and de-duplicated, so output is stable however the checks were ordered
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


class Problems:
    """A collector: checks add to it, and `raise_if_any` turns the lot into one SpecError."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, pos: Pos, message: str) -> None:
        self.items.append(Problem(pos, message))

    def extend(self, error: SpecError) -> None:
        self.items.extend(error.problems)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise SpecError(self.items)
