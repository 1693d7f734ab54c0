"""How a ``[tool.containerize]`` key is declared, and the checks every table shares.

An :class:`Option` is one key, declared once: what it expects, its default, its bounds,
the sources it may come from (the file, a ``CONTAINERIZE_*`` variable, a command-line
flag) and its help text. The command line, the validation, the ``Config`` record and
the README's table of keys are all made from these declarations
(:mod:`containerize.options` lists them). :func:`check_keys` is the one check of
unknown keys, for every table.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from containerize.errors import ConfigError

#: What a key's value is: ``paths`` is one string or a list of them.
Kind = Literal["str", "int", "bool", "list", "paths", "table", "tables"]

_KIND_TEXT: dict[Kind, str] = {
    "str": "string",
    "int": "integer",
    "bool": "boolean",
    "list": "list of strings",
    "paths": "string or list of strings",
    "table": "table",
    "tables": "list of tables",
}


class Values(Protocol):
    """The layered sources, as a check sees them (:class:`containerize.config` makes it)."""

    project_dir: Path
    name: str

    def get(self, key: str) -> Any:
        """The checked value of another top-level key."""
        ...


#: Turns a key's typed value (and where it came from) into the record's value.
Check = Callable[[Any, str, Values], Any]


@dataclass(frozen=True, kw_only=True)
class Flag:
    """The command-line flag that sets an option, and the commands that take it."""

    name: str  # '--platform'
    dest: str  # the argparse attribute
    metavar: str
    action: Literal["store", "append"] = "store"
    #: The subcommands that take the flag, with its help text there (None: none shown).
    commands: tuple[tuple[str, str | None], ...]


@dataclass(frozen=True, kw_only=True)
class Option:
    """One key of ``[tool.containerize]`` or of one of its tables, declared once."""

    key: str
    kind: Kind
    expects: str  # what a valid value looks like: errors, --help and the README say it
    default: Any
    low: int | None = None  # bounds of an int, inclusive
    high: int | None = None
    problem: str = "out of range"  # what an int out of bounds is
    env: bool = False  # CONTAINERIZE_<KEY> may set it
    flag: Flag | None = None
    check: Check | None = None  # more than the kind's own check
    field: str | None = None  # the Config attribute, when not the key's own name
    default_text: str | None = None  # the README's default, when not the value itself
    hint: str | None = None  # how to write a value, when an empty one is refused

    @property
    def env_var(self) -> str:
        return "CONTAINERIZE_" + self.key.upper().replace("-", "_")

    @property
    def attribute(self) -> str:
        """The name of the record's field that holds the checked value."""
        return self.field or self.key.replace("-", "_")

    @property
    def type_text(self) -> str:
        text = _KIND_TEXT[self.kind]
        if self.low is not None and self.high is not None:
            text += f" {self.low}-{self.high}"
        return text

    def default_shown(self) -> str:
        """The default as the README's table shows it."""
        if self.default_text is not None:
            return self.default_text
        value = self.default
        if value is None or value in ({}, ()):
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, tuple):
            return "[" + ", ".join(f'"{item}"' for item in value) + "]"
        if isinstance(value, str):
            return f'"{value}"'
        return str(value)


def by_key(options: Iterable[Option]) -> dict[str, Option]:
    return {option.key: option for option in options}


def check_keys(table: Mapping[str, object], known: Iterable[str], where: str) -> None:
    """Refuse a key of *table* not in *known*, suggesting the nearest one.

    *where* names the table as errors do: ``pyproject.toml: tool.containerize.test``.
    """
    names = list(known)
    for key in table:
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(names)}"
            raise ConfigError(f"{where}: unknown key {key!r}", hint=hint)


def sub_table(value: object, where: str, options: Iterable[Option], *, hint: str) -> dict[str, Any]:
    """*value* checked to be a table of the declared *options* only."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a table, got {value!r}", hint=hint)
    check_keys(value, (option.key for option in options), where)
    return value


def sub_int(table: Mapping[str, Any], option: Option, where: str) -> int:
    """The declared int *option* of a nested *table*, its default when absent."""
    assert option.low is not None
    assert option.high is not None
    return bounded(
        table.get(option.key, option.default), f"{where}.{option.key}", option.low, option.high
    )


def bounded(value: object, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{where}: expected a whole number from {low} to {high}, got {value!r}")
    return value


def list_of(value: object, where: str, of: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list of {of}, got {value!r}")
    return value


def url_path(value: object, where: str) -> str:
    """A URL path as a request line carries it: from '/', no space or control character.

    A query string is fine. Nothing is encoded on the user's behalf: the error says
    how to percent-encode, so the path the image asks for is the one written.
    """
    if not isinstance(value, str) or not value.startswith("/"):
        # Without the slash the path would run into the URL's authority ('@host').
        raise ConfigError(
            f"{where}: {value!r} is not a URL path: it must start with '/'",
            hint='for example "/health"',
        )
    for char in value:
        if char.isspace() or not char.isprintable() or ord(char) < 0x20 or char == "\x7f":
            name = "a space" if char == " " else f"the character {char!r}"
            raise ConfigError(
                f"{where}: {value!r} holds {name}, which a URL path cannot",
                hint=f"percent-encode it ({char!r} is %{ord(char):02X}), e.g. '/a%20b'",
            )
    return value


_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def env_table(value: object, where: str) -> tuple[tuple[str, str], ...]:
    """A table of environment variable name = value (a string or a number), sorted."""
    if not isinstance(value, dict):
        raise ConfigError(
            f"{where}: expected a table of variable name = value, got {value!r}",
            hint='for example env = { DJANGO_SETTINGS_MODULE = "mysite.settings" }',
        )
    env = []
    for key, item in sorted(value.items()):
        if not _ENV_NAME_RE.match(key):
            raise ConfigError(
                f"{where}: {key!r} is not an environment variable name",
                hint="use letters, digits and '_', not starting with a digit",
            )
        if not isinstance(item, str | int | float) or isinstance(item, bool):
            raise ConfigError(f"{where}.{key} must be a string or number, not {item!r}")
        if not str(item).isprintable():
            raise ConfigError(
                f"{where}.{key}: {str(item)!r} holds a newline or another control character",
                hint="environment values are one line each",
            )
        env.append((str(key), str(item)))
    return tuple(env)
