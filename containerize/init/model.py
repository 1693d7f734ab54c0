"""What ``containerize init`` found, and where: plain records shared by its steps."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

#: Source quoted in evidence is cut at this length.
QUOTE_LENGTH = 80


def quote(text: str, node: ast.AST) -> str:
    """*node*'s source as written in *text* (one line, shortened), for evidence."""
    segment = ast.get_source_segment(text, node) or ast.unparse(node)
    segment = " ".join(segment.split())
    return segment if len(segment) <= QUOTE_LENGTH else segment[: QUOTE_LENGTH - 3] + "..."


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
    #: Written above the key in the table (a table's value: at its head).
    comment: str | None = None
    #: For a table's value: comments at the head of its sub-tables, by key.
    sub_comments: tuple[tuple[str, str], ...] = ()

    def reason(self) -> str:
        return "; ".join(str(item) for item in self.why)
