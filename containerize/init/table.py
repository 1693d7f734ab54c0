"""The ``[tool.containerize]`` table ``init`` writes, edited into ``pyproject.toml``.

The document is edited with tomlkit, so everything outside the table keeps its bytes:
comments, blank lines, key order, quoting. A new table goes at the end of the file;
``--force`` replaces an existing one where it stands. The result is checked twice
before anything is written: parsed again, everything but the table must read as
before; and :func:`containerize.config.load` must accept it, as a build would.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import Table as TomlTable

from containerize import config
from containerize import project as project_mod
from containerize.errors import ConfigError
from containerize.fsutil import replacing_file
from containerize.image import context
from containerize.init.model import Choice

#: The order keys are written in: what is served, what is installed, how it is served.
ORDER = (
    "app-directory",
    "app",
    "servers",
    "lock",
    "base-image",
    "python-version",
    "allowed-hosts",
    "healthcheck-path",
    "static",
    "writable",
    "env",
    "test",
)
#: Keys written as a table of their own (``[tool.containerize.test]``), after the rest.
_SUBTABLES = frozenset({"test"})


@dataclass(frozen=True, kw_only=True)
class Edit:
    """``pyproject.toml`` with the new table, and the table alone."""

    text: str
    table: str  # '[tool.containerize]' and its keys, as written
    dropped: tuple[str, ...]  # keys of a replaced table that the new one does not have


def existing(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ``[tool.containerize]`` table of parsed ``pyproject.toml`` *data*, if any."""
    tool = data.get("tool")
    table = tool.get("containerize") if isinstance(tool, dict) else None
    return table if isinstance(table, dict) else None


def value_text(value: Any) -> str:
    """*value* as TOML writes it on one line."""
    return str(_item(value).as_string())


def render(text: str, choices: Sequence[Choice], *, path: Path) -> Edit:
    """*text* (``pyproject.toml`` at *path*) with ``[tool.containerize]`` set to
    *choices*; an existing table is replaced."""
    table = _table(choices)
    try:
        document = tomlkit.parse(text)
        old = existing(document.unwrap())
        tool = document.get("tool")
        if old is not None and isinstance(tool, TomlTable):
            tool["containerize"] = table  # where it stands
        else:
            if old is not None and tool is not None:
                del tool["containerize"]  # spread over the file: replaced at its end
            document.append("tool", _wrapped(table))
        new_text = document.as_string()
    except Exception as exc:  # tomlkit raises its own errors and ValueError, unrelated
        raise _cannot(path, f"tomlkit could not add the table: {exc}") from None
    new_text = _same_newlines(text, new_text)
    _check_rest(text, new_text, table.unwrap(), path)
    standalone = tomlkit.document()
    standalone.append("tool", _wrapped(_table(choices)))
    dropped = tuple(key for key in (old or {}) if key not in table)
    return Edit(text=new_text, table=standalone.as_string(), dropped=dropped)


def check(project_dir: Path, edit: Edit, *, path: Path) -> config.Config:
    """Load the new table as a build would (without ``CONTAINERIZE_*`` variables), and
    choose the files it puts into the image, as a build does first."""
    try:
        project = project_mod.parse_project(edit.text, path)
        loaded = config.load(project_dir, project=project, environ={})
        context.app_files(loaded)
        return loaded
    except ConfigError as exc:
        raise ConfigError(
            f"the table init made would not load, so nothing was written: {exc.message}",
            hint=exc.hint or "write [tool.containerize] by hand (see the README)",
        ) from None


def write(path: Path, text: str) -> None:
    """Replace (or create) *path* with *text* atomically, keeping its permissions."""
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    with replacing_file(path) as tmp:
        tmp.write_bytes(text.encode("utf-8"))
        os.chmod(tmp, mode)


def _table(choices: Sequence[Choice]) -> TomlTable:
    table = tomlkit.table()
    for choice in sorted(choices, key=lambda c: ORDER.index(c.key)):
        if choice.key in _SUBTABLES and isinstance(choice.value, dict):
            sub = tomlkit.table()
            for line in (choice.comment or "").splitlines():
                sub.add(tomlkit.comment(line))
            comments = dict(choice.sub_comments)
            for key, value in choice.value.items():
                sub.add(key, _nested(value, comments.get(key)) if _tables(value) else _item(value))
            table.add(choice.key, sub)
            continue
        if choice.comment:
            for line in choice.comment.splitlines():
                table.add(tomlkit.comment(line))
        table.add(choice.key, _item(choice.value))
    return table


def _tables(value: Any) -> bool:
    """Whether *value* is a table of tables (``services``): written as a table of its
    own, one inline table a line, not as one long inline table."""
    return (
        isinstance(value, dict)
        and bool(value)
        and all(isinstance(item, dict) for item in value.values())
    )


def _nested(value: dict[str, Any], comment: str | None) -> TomlTable:
    nested = tomlkit.table()
    for line in (comment or "").splitlines():
        nested.add(tomlkit.comment(line))
    for key, item in value.items():
        nested.add(key, _item(item))
    return nested


def _wrapped(table: TomlTable) -> TomlTable:
    """*table* under ``tool``, written as ``[tool.containerize]`` (no ``[tool]`` line)."""
    tool = tomlkit.table(is_super_table=True)
    tool.add("containerize", table)
    return tool


def _item(value: Any) -> Any:
    if isinstance(value, dict):
        inline = tomlkit.inline_table()
        inline.update({key: _item(item) for key, item in value.items()})
        return inline
    if isinstance(value, list | tuple):
        array = tomlkit.array()
        array.extend(_item(item) for item in value)
        return array
    return tomlkit.item(value)


def _same_newlines(original: str, text: str) -> str:
    """A file written with CRLF line ends keeps them."""
    if "\r\n" in original and original.count("\n") == original.count("\r\n"):
        return text.replace("\r\n", "\n").replace("\n", "\r\n")
    return text


def _check_rest(before: str, after: str, table: Mapping[str, Any], path: Path) -> None:
    """Everything but the table reads as before, and the table as intended."""
    try:
        old, new = tomllib.loads(before), tomllib.loads(after)
    except tomllib.TOMLDecodeError as exc:
        raise _cannot(path, f"the edited file is not valid TOML: {exc}") from None
    written = existing(new)
    for data in (old, new):
        tool = data.get("tool")
        if isinstance(tool, dict):
            tool.pop("containerize", None)
            if not tool:
                del data["tool"]
    if written != table or old != new:
        raise _cannot(path, "the edited file would change more than [tool.containerize]")


def _cannot(path: Path, why: str) -> ConfigError:
    return ConfigError(
        f"{path}: cannot add [tool.containerize] safely ({why}); nothing was written",
        hint="run 'containerize init --dry-run' and paste the table it prints by hand",
    )
