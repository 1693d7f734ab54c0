"""The only ways a value gets into generated text: one function per output language.

The Dockerfile renderer writes four languages, one inside another:

- Dockerfile instruction words (``ENV``, ``LABEL``, ``ARG``, ``WORKDIR``, ``COPY``,
  ``USER``, ``EXPOSE``, ``STOPSIGNAL``): :func:`dockerfile_word`, plus
  :func:`dockerfile_key` and :func:`dockerfile_stage` for the names that cannot be
  quoted;
- the JSON (exec) form of ``CMD`` and ``HEALTHCHECK``: :func:`exec_form`;
- POSIX shell, for ``RUN`` lines: :func:`shell_word` and :func:`shell_command`;
- Python source, for the health check's ``python -c`` code: :func:`python_string`.

Each returns text that its reader turns back into exactly the value given, or raises
:class:`~containerize.errors.ConfigError` naming where the value came from (*source*)
when no such text exists: a Dockerfile instruction ends at a line break and has no
escape for one, and an argv cannot hold a NUL.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence

from containerize.errors import ConfigError

# Characters a word may hold unquoted, in a Dockerfile and in a shell: none of them is
# special to either. In a Dockerfile a leading '-' is quoted too, so that a word is never
# read as an instruction's flag (``COPY --from=...``).
_SHELL_BARE_RE = re.compile(r"[A-Za-z0-9_./:@%+,=-]+")
_DOCKERFILE_BARE_RE = re.compile(r"[A-Za-z0-9_./:@%+,=][A-Za-z0-9_./:@%+,=-]*")

# ENV and LABEL keys, written bare: letters, digits, '_', '.', '-'.
_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")

# BuildKit's rule for stage names (and so for named build contexts).
_STAGE_RE = re.compile(r"[a-z][a-z0-9_.-]*")

# Unicode categories that end a line, cannot be encoded, or are control characters.
_UNWRITABLE_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def dockerfile_word(value: str, *, source: str | None = None, always_quote: bool = False) -> str:
    """*value* as one word of a Dockerfile instruction argument.

    The word is double-quoted, with ``\\``, ``"`` and ``$`` escaped, so BuildKit's word
    processing gives back *value* with no variable expanded. Without *always_quote* a
    value made only of characters that mean nothing to that processing is left bare.
    A line break or other control character cannot be written in a Dockerfile
    instruction and is refused.
    """
    _refuse_unwritable(value, source=source, language="a Dockerfile instruction")
    if not always_quote and _DOCKERFILE_BARE_RE.fullmatch(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def dockerfile_key(name: str, *, source: str | None = None) -> str:
    """*name* as the key of an ``ENV`` or ``LABEL`` pair, which is written bare."""
    if not _KEY_RE.fullmatch(name):
        raise ConfigError(
            f"{_where(source)}: {name!r} cannot be an ENV or LABEL key",
            hint="use letters, digits, '_', '.' and '-', starting with a letter or '_'",
        )
    return name


def dockerfile_stage(name: str, *, source: str | None = None) -> str:
    """*name* as a build stage or named build context (``FROM ... AS name``,
    ``--from=name``), which BuildKit allows only in lowercase letters, digits, ``_``,
    ``.`` and ``-``, starting with a letter."""
    if not _STAGE_RE.fullmatch(name):
        raise ConfigError(
            f"{_where(source)}: {name!r} cannot name a build stage",
            hint="use lowercase letters, digits, '_', '.' and '-', starting with a letter",
        )
    return name


def exec_form(argv: Sequence[str], *, source: str | None = None) -> str:
    """*argv* as the JSON array of an exec-form ``CMD`` or ``HEALTHCHECK CMD``.

    JSON escapes every control character and, with ASCII output, every line separator,
    so the array stays on one line. A NUL cannot be passed to a program and is refused,
    as is a lone surrogate, which has no UTF-8 encoding.
    """
    if isinstance(argv, str) or not argv:
        raise ConfigError(f"{_where(source)}: a command needs at least a program, got {argv!r}")
    for arg in argv:
        for char in arg:
            if char == "\0" or unicodedata.category(char) == "Cs":
                raise ConfigError(
                    f"{_where(source)}: the argument {arg!r} holds {_describe(char)}, "
                    "which no program's argument list can hold",
                    hint="remove it from the value",
                )
    return json.dumps(list(argv))


def shell_word(value: str, *, source: str | None = None, always_quote: bool = False) -> str:
    """*value* as one POSIX shell word, for a ``RUN`` line.

    The word is single-quoted unless it holds only characters that mean nothing to a
    shell (or *always_quote* is set); no expansion happens inside single quotes. The
    ``RUN`` line is still a Dockerfile line, so line breaks and other control
    characters are refused.
    """
    _refuse_unwritable(value, source=source, language="a RUN line of a Dockerfile")
    if not always_quote and _SHELL_BARE_RE.fullmatch(value):
        return value
    return "'" + value.replace("'", "'\"'\"'") + "'"


def shell_command(argv: Sequence[str], *, source: str | None = None) -> str:
    """*argv* as one shell command line, each word through :func:`shell_word`.

    The program name is quoted when it starts with ``-`` (bare, BuildKit would read it
    as a flag of the ``RUN`` instruction, ``--mount=...``) or holds ``=`` (bare, the
    shell would read it as a variable assignment and run the next word instead).
    """
    if isinstance(argv, str) or not argv:
        raise ConfigError(f"{_where(source)}: a command needs at least a program, got {argv!r}")
    program, *args = argv
    quote = program.startswith("-") or "=" in program
    words = [shell_word(program, source=source, always_quote=quote)]
    words += [shell_word(arg, source=source) for arg in args]
    return " ".join(words)


def python_string(value: str, *, source: str | None = None) -> str:
    """*value* as a Python string literal.

    :func:`ascii` writes a literal that evaluates to *value* in printable ASCII only:
    quotes, backslashes, line breaks and every non-ASCII character are escaped, so the
    literal cannot end early or span lines. Every ``str`` has such a literal; only a
    value that is not a ``str`` is refused.
    """
    if not isinstance(value, str):
        raise ConfigError(f"{_where(source)}: expected a string, got {value!r}")
    literal = ascii(value)
    # ascii() of a str is always a quoted, printable-ASCII literal; checked because the
    # generated code's safety rests on it.
    if not (literal.isascii() and literal.isprintable() and literal[0] in "'\""):
        raise ConfigError(f"{_where(source)}: {value!r} has no safe Python literal")
    return literal


def _refuse_unwritable(value: str, *, source: str | None, language: str) -> None:
    if not isinstance(value, str):
        raise ConfigError(f"{_where(source)}: expected a string, got {value!r}")
    for char in value:
        if unicodedata.category(char) in _UNWRITABLE_CATEGORIES:
            raise ConfigError(
                f"{_where(source)}: {value!r} holds {_describe(char)}, which {language} "
                "cannot hold",
                hint="remove it: a value written into the Dockerfile must be one line of "
                "printable characters",
            )


_CONTROL_NAMES = {"\0": "a NUL", "\n": "a line feed", "\r": "a carriage return", "\t": "a tab"}


def _describe(char: str) -> str:
    name = _CONTROL_NAMES.get(char) or unicodedata.name(char, "").lower() or "a control character"
    return f"{name} (U+{ord(char):04X})"


def _where(source: str | None) -> str:
    return source or "a value for the Dockerfile"
