"""The test environment: variables the app needs to import and run under test, given to
the build's import check and static command and to the test matrix's containers, and
never written into an image.

They come from ``[tool.containerize.test] env`` and from the dotenv file named by
``env-file`` (the file wins: the table holds committed placeholders, the file a
developer's or CI's own values). The build passes them as a BuildKit secret, mounted
only for the RUN steps that import the app, so they are in no layer, label, config or
history entry; the matrix passes them to ``docker run`` by name, their values through
the docker client's environment, so they are on no command line and in no log.

Dotenv files: one ``NAME=value`` a line, an optional ``export`` in front; blank lines
and lines starting with ``#`` are skipped; a value in single quotes is literal, one in
double quotes knows ``\\n``, ``\\t``, ``\\"`` and ``\\\\``; an unquoted value ends at
`` #`` and is stripped. Nothing is expanded (``$OTHER`` stays as written).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from containerize.errors import ConfigError
from containerize.testsettings import TestSettings

#: The BuildKit secret's id, and where the RUN steps that use it mount it.
MOUNT_ID = "testenv"
MOUNT_PATH = "/run/containerize/testenv"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LINE = re.compile(r"\s*(?:export\s+)?(?P<name>[^=\s]+)\s*=\s*(?P<value>.*?)\s*")
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}


def variables(settings: TestSettings) -> tuple[tuple[str, str], ...]:
    """The test environment, sorted by name: the ``env`` table, the file's values over
    it, and the services' ``app-env`` over both.

    A service's variables win: they say where the service the app talks to is, and
    the table often holds a placeholder for the same name (``containerize init``
    writes one for the import check). The import check gets them too, though no
    service runs there: settings that read ``DATABASE_URL`` at import only parse it.
    """
    found = dict(settings.env)
    if settings.env_file is not None:
        found.update(read_dotenv(settings.env_file))
    found.update((key, value) for service in settings.services for key, value in service.app_env)
    return tuple(sorted(found.items()))


def read_dotenv(path: Path) -> dict[str, str]:
    """The variables of the dotenv file *path*; errors name the file and the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"tool.containerize.test.env-file: cannot read {path}: {exc}",
            hint="make it a readable UTF-8 file of NAME=value lines",
        ) from None
    return parse_dotenv(text, where=str(path))


def parse_dotenv(text: str, *, where: str) -> dict[str, str]:
    """*text*'s variables, in the dotenv dialect the module describes."""
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        at = f"{where}:{number}"
        matched = _LINE.fullmatch(line)
        if matched is None:
            raise ConfigError(
                f"{at}: expected NAME=value, got {line[:60]!r}", hint="for example SECRET_KEY=abc"
            )
        name = matched["name"]
        if not _NAME.fullmatch(name):
            raise ConfigError(
                f"{at}: {name!r} is not an environment variable name",
                hint="use letters, digits and '_', not starting with a digit",
            )
        found[name] = _value(matched["value"], at)
    return found


def _value(raw: str, at: str) -> str:
    if raw[:1] in ("'", '"'):
        quote = raw[0]
        end = _closing(raw, quote)
        if end is None:
            raise ConfigError(f"{at}: the value's {quote} is never closed")
        rest = raw[end + 1 :].strip()
        if rest and not rest.startswith("#"):
            raise ConfigError(f"{at}: text after the quoted value: {rest[:30]!r}")
        inner = raw[1:end]
        if quote == "'":
            value = inner
        else:
            value = re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], "\\" + m[1]), inner)
    else:
        value = re.split(r"\s+#", raw, maxsplit=1)[0].strip()
    if "\0" in value:
        raise ConfigError(f"{at}: a NUL cannot be an environment value")
    return value


def _closing(raw: str, quote: str) -> int | None:
    i = 1
    while i < len(raw):
        if raw[i] == "\\" and quote == '"':
            i += 2
            continue
        if raw[i] == quote:
            return i
        i += 1
    return None


def shell_text(found: tuple[tuple[str, str], ...]) -> str:
    """The secret's text: one ``export NAME=value`` line each, for ``sh`` to source.

    Each value is one single-quoted shell word, so nothing in it is expanded or run.
    """
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in found)
