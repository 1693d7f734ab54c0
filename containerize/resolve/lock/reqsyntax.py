"""The syntax of a requirements file, as pip reads it: logical lines (continuations
joined, comments dropped), a requirement line's requirement and options, the files an
option line includes, and a line that names a local folder. Shared by the reader
(:mod:`containerize.resolve.lock.requirements`) and what only looks for includes and
folders in a file that need not be hashed (the input of ``containerize lock``)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

# pip's COMMENT_RE: a comment starts a line or follows whitespace (so URL fragments
# such as '#sha256=' are not comments).
_COMMENT_RE = re.compile(r"(^|\s+)#.*$")
#: The options that include another file, and whether it is a constraints file.
INCLUDES = {"-r": False, "--requirement": False, "-c": True, "--constraint": True}
#: The options that name an editable requirement.
EDITABLE = ("-e", "--editable")


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """``(first line number, content)`` per logical line, as pip's ``join_lines`` and
    ``ignore_comments`` make them: continuations joined, comments and blanks dropped."""
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        is_comment = _COMMENT_RE.match(raw) is not None
        if raw.endswith("\\") and not is_comment:
            if not parts:
                start = number
            parts.append(raw[:-1])
            continue
        if parts:
            # A comment line ends a continuation; it is dropped below like any comment.
            parts.append(" " + raw if is_comment else raw)
            joined, first = "".join(parts), start
            parts = []
        else:
            joined, first = raw, number
        content = _COMMENT_RE.sub("", joined).strip()
        if content:
            yield first, content
    if parts:
        content = _COMMENT_RE.sub("", "".join(parts)).strip()
        if content:
            yield start, content


def split_line(text: str) -> tuple[str, list[str]]:
    """A requirement line's requirement and its option tokens, split as pip splits them:
    the options start at the first token that starts with ``-``."""
    tokens = text.split()
    split = next((i for i, t in enumerate(tokens) if t.startswith("-")), len(tokens))
    return " ".join(tokens[:split]), tokens[split:]


def include_values(text: str) -> list[str]:
    """The files an option line includes (``-r x``, ``--requirement=x``, ``-cx``);
    other options, which an unhashed input may use freely, are passed over."""
    try:
        tokens = shlex.split(text)
    except ValueError:
        return []
    values = []
    for position, token in enumerate(tokens):
        option, has_value, value = token.partition("=")
        if option in INCLUDES:
            if has_value:
                values.append(value)
            elif position + 1 < len(tokens):
                values.append(tokens[position + 1])
        elif token[:2] in ("-r", "-c") and len(token) > 2:
            values.append(token[2:])
    return values


def local_reference(text: str) -> tuple[str | None, str] | None:
    """``(name or None, folder)`` when *text* names a local folder: a path (``.``,
    ``./lib``, ``/abs``), a ``file:`` URL, or ``name @ file:///abs/path``; else None."""
    text = text.strip()
    name = None
    if " @ " in text or "@file:" in text:
        head, _, text = text.partition("@")
        name = head.strip().split("[", 1)[0].strip() or None
        text = text.strip().split(";", 1)[0].strip()
    if text.startswith("file:"):
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            return None
        return name, unquote(parts.path) or "."
    if name is None and (text in (".", "..") or text.startswith(("./", "../", "/"))):
        return name, text.split(";", 1)[0].strip()
    return None
