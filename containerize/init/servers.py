"""The WSGI servers the project runs today, read from its own start command.

A ``Procfile`` (``web: uwsgi --ini uwsgi.ini``), a shell script (``exec gunicorn
app:app``) or a Dockerfile's ``CMD``/``ENTRYPOINT`` that runs one of the servers
containerize builds names the server the project is deployed with; init proposes it
for ``servers``, and gunicorn (the default) only where nothing names one. Files named
for development (``Procfile.dev``, ``docker/dev.sh``) are not production's, and a line
that installs a server (``pip install gunicorn``) does not run it.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from containerize.init.model import Choice, Evidence
from containerize.init.sources import DEV_WORDS, Sources

#: Files that start the project's server, searched in this order.
START_FILES = ("Procfile*", "*.sh", "bin/*.sh", "scripts/*.sh", "Dockerfile*", "Containerfile*")
#: The command words that run each server containerize builds.
COMMANDS = {
    "gunicorn": "gunicorn",
    "uwsgi": "uwsgi",
    "mod_wsgi-express": "mod_wsgi",
    "cheroot": "cheroot",
}
# A command word in command position: at the start, after a shell operator, `exec`,
# `python -m`, a Procfile's process type, or as an exec-form list's first word; a
# path before it (/usr/local/bin/, .venv/bin/) is allowed.
_RUNS = re.compile(
    r"(?:^|[;&|(]\s*|\bexec\s+|\bpython(?:3(?:\.\d+)?)?\s+-m\s+|^[\w-]+:\s*|\[\s*[\"'])"
    r"(?:[\w./-]*/)?(?P<command>" + "|".join(re.escape(c) for c in COMMANDS) + r")"
    r"(?=[\s\"']|$)"
)
_INSTALLS = re.compile(r"\b(?:pip3?|uv|poetry|pipenv|apt-get|apk|conda)\b.*\b(?:install|add)\b")
_DOCKER_RUNS = re.compile(r"^\s*(?:CMD|ENTRYPOINT)\b", re.IGNORECASE)


def started(sources: Sources) -> list[tuple[str, Evidence]]:
    """The servers the project's start files run (containerize's names, in the order
    found, each once), each with the first line that runs it."""
    found: dict[str, Evidence] = {}
    for pattern in START_FILES:
        for file in sorted(sources.project_dir.glob(pattern)):
            path = PurePosixPath(file.relative_to(sources.project_dir).as_posix())
            if _for_development(path) or not file.is_file():
                continue
            docker = path.name.startswith(("Dockerfile", "Containerfile"))
            for number, line in enumerate((sources.read_text(path) or "").splitlines(), start=1):
                text = line.strip()
                if not text or text.startswith("#") or _INSTALLS.search(text):
                    continue
                if docker and not _DOCKER_RUNS.match(text):
                    continue
                command = re.sub(r"^(?:CMD|ENTRYPOINT)\s+", "", text, flags=re.IGNORECASE)
                for match in _RUNS.finditer(command):
                    server = COMMANDS[match["command"]]
                    shown = text if len(text) <= 80 else text[:77] + "..."
                    found.setdefault(server, Evidence(what=shown, file=str(path), line=number))
    return list(found.items())


def choose(sources: Sources) -> Choice | None:
    """``servers``: those the project runs today; None (gunicorn, the default) where
    nothing states one."""
    servers = started(sources)
    if not servers:
        return None
    return Choice(
        key="servers",
        value=[name for name, _ in servers],
        why=tuple(
            Evidence(what=f"runs {name}: {e.what}", file=e.file, line=e.line) for name, e in servers
        ),
    )


def _for_development(path: PurePosixPath) -> bool:
    """Whether a word of *path*, its suffix too (``Procfile.dev``), names development."""
    return not DEV_WORDS.isdisjoint(re.split(r"[-_.\s/]+", path.as_posix().lower()))
