"""``tool.containerize.static``: the app's static files, served by every server."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from containerize.declare import Option, Values, sub_table
from containerize.errors import ConfigError

STATIC_OPTIONS: tuple[Option, ...] = (
    Option(
        key="url",
        kind="str",
        expects="the URL prefix, such as '/static/'",
        default=None,
        default_text="required",
    ),
    Option(
        key="dir",
        kind="str",
        expects="the folder that holds them, in the app folder",
        default=None,
        default_text="required",
    ),
    Option(
        key="command",
        kind="list",
        expects="an argv run at build time, in the app folder, that fills it (collectstatic)",
        default=(),
    ),
)


@dataclass(frozen=True, kw_only=True)
class StaticFiles:
    """Static files: served under *url* from *dir* (relative to the app folder)."""

    url: str  # starts and ends with '/'
    dir: str  # a relative POSIX path inside the app folder
    command: tuple[str, ...] = ()  # run at build time in the app folder, e.g. collectstatic


def check_static(value: dict[str, Any] | None, where: str, values: Values) -> StaticFiles | None:
    """The ``static`` table, or None without one."""
    if value is None:
        return None
    sub_table(
        value,
        where,
        STATIC_OPTIONS,
        hint='for example static = { url = "/static/", dir = "staticfiles" }',
    )
    url, folder, command = value.get("url"), value.get("dir"), value.get("command", [])
    if not isinstance(url, str) or not re.fullmatch(r"/(?:[A-Za-z0-9._~-]+/)+", url):
        raise ConfigError(
            f"{where}.url: {url!r} is not a URL prefix",
            hint="write a path that starts and ends with '/', such as '/static/'",
        )
    if url.startswith(("/.", "//")) or "/../" in url or "/./" in url:
        raise ConfigError(f"{where}.url: {url!r} has a '.' or '..' segment")
    parts = PurePosixPath(folder).parts if isinstance(folder, str) else ()
    if (
        not isinstance(folder, str)
        or not parts
        or PurePosixPath(folder).is_absolute()
        or any(part in (".", "..") for part in parts)
        or not folder.isprintable()
        or "\\" in folder
    ):
        raise ConfigError(
            f"{where}.dir: {folder!r} is not a folder inside the app",
            hint="write a relative path such as 'static' or 'staticfiles'",
        )
    if not isinstance(command, list) or not all(
        isinstance(arg, str) and arg.isprintable() for arg in command
    ):
        raise ConfigError(
            f"{where}.command: expected a list of strings (an argv), got {command!r}",
            hint='for Django: command = ["python", "manage.py", "collectstatic", "--noinput"]',
        )
    return StaticFiles(url=url, dir=PurePosixPath(folder).as_posix(), command=tuple(command))


#: A Python interpreter as a static command names it: ``python``, ``python3``,
#: ``python3.11``, or one of them by path (``/opt/venv/bin/python``).
PYTHON = re.compile(r"(?:/[^/]+)*/?python(?:3(?:\.[0-9]+)?)?")


def runs_in_python(command: tuple[str, ...]) -> bool:
    """True when *command* is Python running a script or a module with no interpreter
    options (``python manage.py collectstatic``, ``python -m mkdocs build``): the import
    check's process can run it itself, right after loading the app, instead of a second
    interpreter loading the app's framework again
    (``containerize_wsgi.py --check ... --then COMMAND``, which parses it the same way)."""
    if len(command) < 2 or not PYTHON.fullmatch(command[0]):
        return False
    if command[1] == "-m":
        return len(command) > 2 and re.fullmatch(r"[A-Za-z_][\w.]*", command[2]) is not None
    return not command[1].startswith("-")
