"""What ``containerize init`` found, and where: plain records shared by its steps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """A fact from the project: what was read, in which file (project-relative), where."""

    what: str
    file: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{self.what} ({where})"


@dataclass(frozen=True, kw_only=True)
class Choice:
    """One key of the table init writes, its value, and why."""

    key: str
    value: Any  # a TOML value: a string, a list of strings, a table of them
    why: tuple[Evidence | str, ...]

    def reason(self) -> str:
        return "; ".join(str(item) for item in self.why)
