"""The services ``containerize init`` proposes beside the app in the test matrix:
PostgreSQL, MySQL and Redis, with the variables the app reads wired to them.

A server is proposed when the code an import runs names it (a URL literal such as
``postgres://``, Django's ``backends.postgresql``, ``django_redis``), or when the app
reads a variable that says where it is and the lock says which server that is: the
app reads ``DATABASE_URL`` and the lock has ``psycopg`` (``mysqlclient``, ...), or it
reads ``REDIS_URL``. A driver in the lock alone is only a note: an app may carry a
driver it does not use at import, and a service costs every cell a container.

Each service is written as a ``[tool.containerize.test.services]`` entry: the image
(the official one where it resolves, else the one ``containerize service-image``
builds from Debian's packages), its port, its own variables, a ready command, and in
``app-env`` the variables the app reads, pointed at it by its name on the cell's
network: ``DATABASE_URL = "postgresql://postgres:test-only@db:5432/postgres"``, and
for settings that read the parts, ``DB_HOST = "db"``, ``PGPORT = "5432"``, ... A
Django site with a database gets its migrations as ``WSGI_PRESTART`` in the test
environment, run in each cell before the server starts.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.utils import canonicalize_name

from containerize.init.environment import ENVIRON_DEFAULT_VARS, Found, Names
from containerize.init.model import Evidence, quote
from containerize.init.sources import SourceFile
from containerize.resolve.lock import Lock
from containerize.testsettings import SERVICE_IMAGES

#: The password of the test databases init proposes: test-only, never in an image.
PASSWORD = "test-only"  # noqa: S105 (a placeholder for tests, written in the table)


@dataclass(frozen=True, kw_only=True)
class Server:
    """A kind of server init knows how to start beside the app."""

    name: str  # as the settings are said to use it: "PostgreSQL"
    host: str  # the service's name, its host name on the cell's network
    port: int
    official: str  # the official image
    local: str | None  # the image 'containerize service-image NAME' builds, by NAME
    drivers: frozenset[str]  # lock packages that talk to it
    url: str  # the URL the app is given, with {host}
    url_names: re.Pattern[str]  # variables that hold its URL
    parts: re.Pattern[str]  # variables that hold a part of its address: group 'part'
    part_values: tuple[tuple[str, str], ...]  # part -> value ({host} for the host)
    env: tuple[tuple[str, str], ...] = ()  # the service's own variables
    ready: tuple[str, ...] = ()
    database: bool = True  # whether Django migrates it

    def part_value(self, part: str) -> str | None:
        return dict(self.part_values).get(part)


_PARTS = (
    ("HOST", "{host}"), ("HOSTNAME", "{host}"), ("SERVER", "{host}"), ("PORT", "{port}"),
)  # fmt: skip
_DB_PARTS = (
    *_PARTS, ("USER", "{user}"), ("USERNAME", "{user}"), ("PASSWORD", PASSWORD),
    ("PASS", PASSWORD), ("NAME", "{db}"), ("DB", "{db}"), ("DATABASE", "{db}"),
)  # fmt: skip

SERVERS: tuple[Server, ...] = (
    Server(
        name="PostgreSQL",
        host="db",
        port=5432,
        official="postgres:15",
        local="postgres",
        drivers=frozenset({"psycopg", "psycopg2", "psycopg2-binary", "psycopg-binary",
                           "pg8000", "asyncpg"}),
        url="postgresql://postgres:" + PASSWORD + "@{host}:5432/postgres",
        url_names=re.compile(
            r"(?:DATABASE|DB|POSTGRES(?:QL)?|PG|SQLALCHEMY_DATABASE)_?(?:URL|URI|DSN)"
        ),
        parts=re.compile(
            r"(?:DATABASE|DB|POSTGRES(?:QL)?|PG|SQL)_?"
            r"(?P<part>HOST|HOSTNAME|SERVER|PORT|USER|USERNAME|PASSWORD|PASS|NAME|DB|DATABASE)"
        ),
        part_values=tuple((p, v.format(host="db", port=5432, user="postgres", db="postgres"))
                          for p, v in _DB_PARTS),
        env=(("POSTGRES_PASSWORD", PASSWORD),),
        ready=("pg_isready", "--host=127.0.0.1", "--username=postgres"),
    ),
    Server(
        name="MySQL",
        host="db",
        port=3306,
        official="mysql:8.4",
        local=None,
        drivers=frozenset({"mysqlclient", "pymysql", "mysql-connector-python", "mariadb"}),
        url="mysql://root:" + PASSWORD + "@{host}:3306/test",
        url_names=re.compile(r"(?:DATABASE|DB|MYSQL|MARIADB|SQLALCHEMY_DATABASE)_?(?:URL|URI|DSN)"),
        parts=re.compile(
            r"(?:DATABASE|DB|MYSQL|MARIADB)_?"
            r"(?P<part>HOST|HOSTNAME|SERVER|PORT|USER|USERNAME|PASSWORD|PASS|NAME|DB|DATABASE)"
        ),
        part_values=tuple((p, v.format(host="db", port=3306, user="root", db="test"))
                          for p, v in _DB_PARTS),
        env=(("MYSQL_ROOT_PASSWORD", PASSWORD), ("MYSQL_DATABASE", "test")),
        ready=("mysqladmin", "ping", "--host=127.0.0.1", "--user=root",
               "--password=" + PASSWORD),
    ),
    Server(
        name="Redis",
        host="cache",
        port=6379,
        official="redis:7",
        local="redis",
        drivers=frozenset({"redis", "django-redis", "hiredis"}),
        url="redis://{host}:6379/0",
        url_names=re.compile(
            r"(?:REDIS|CACHE|CELERY_BROKER|BROKER|CELERY_RESULT_BACKEND|RQ_REDIS)_?"
            r"(?:URL|URI|DSN|LOCATION)"
        ),
        parts=re.compile(r"REDIS_?(?P<part>HOST|HOSTNAME|SERVER|PORT|DB)"),
        part_values=(("HOST", "cache"), ("HOSTNAME", "cache"), ("SERVER", "cache"),
                     ("PORT", "6379"), ("DB", "0")),
        ready=("redis-cli", "ping"),
        database=False,
    ),
)  # fmt: skip
_BY_NAME = {server.name: server for server in SERVERS}
#: Variables whose name alone says which server they point at (not DATABASE_URL).
_NAMED_FOR = {
    "PostgreSQL": re.compile(r"(POSTGRES|PG)"),
    "MySQL": re.compile(r"(MYSQL|MARIADB)"),
    "Redis": re.compile(r"REDIS"),
}
#: A database's URL, whichever server it is.
_DATABASE_URL = re.compile(r"(?:DATABASE|DB|SQLALCHEMY_DATABASE)_?(?:URL|URI|DSN)")
#: Calls that read a database URL from a variable of their own (dj-database-url).
_URL_READERS = {"dj_database_url.config": "DATABASE_URL", "dj_database_url.db_url": ""}


@dataclass(frozen=True, kw_only=True)
class Proposed:
    """One service init writes: its entry, and why."""

    server: Server
    entry: dict[str, Any]
    why: tuple[Evidence | str, ...]
    wired: tuple[str, ...]  # the app's variables app-env sets
    #: The command that builds its image where that is the one proposed, not built yet.
    build_step: str | None = None
    image_note: str | None = None


@dataclass(frozen=True, kw_only=True)
class Proposal:
    services: tuple[Proposed, ...]
    notes: tuple[str, ...]
    #: Comment lines at the head of [tool.containerize.test.services].
    comment: str | None = None


def propose(
    found: Found, locks: Sequence[Lock], *, resolves: Callable[[str], bool] | None
) -> Proposal:
    """The services *found* (what an import of the app runs) and *locks* call for.

    *resolves*: whether an image reference resolves, as the engine answers; None
    where no engine answers (the official image is written, not checked).
    """
    read = dict(mentioned(found))
    locked: dict[str, Lock] = {
        canonicalize_name(p.name): lock for lock in locks for p in lock.packages
    }
    named = dict(found.services)
    notes: list[str] = []
    chosen: list[Proposed] = []
    taken: set[str] = set()
    hosts: set[str] = set()
    for server in SERVERS:
        drivers = sorted(d for d in server.drivers if d in locked)
        in_lock = [Evidence(what=f"{d} in the lock", file=locked[d].path.name) for d in drivers]
        urls = [n for n in read if server.url_names.fullmatch(n) and n not in taken]
        parts = [n for n in read if server.parts.fullmatch(n) and n not in taken]
        own = [n for n in urls + parts if _NAMED_FOR[server.name].search(n)]
        why: list[Evidence | str] = []
        if server.name in named:
            why.append(named[server.name])
        elif own or ((urls or parts) and in_lock):
            why += [read[n] for n in (own or urls + parts)][:2]
        if not why:
            if in_lock:
                notes.append(
                    f"services: {', '.join(drivers)} in the lock, but nothing an import of "
                    f"the app runs names a {server.name} server or reads its address: if the "
                    "tests need one, add it to [tool.containerize.test.services] (see the "
                    "README)"
                )
            continue
        why += in_lock
        host = server.host if server.host not in hosts else server.local or "mysql"
        hosts.add(host)
        wired = [*urls, *parts] if (urls or parts) else []
        taken.update(wired)
        chosen.append(_proposed(server, host, wired, tuple(why), resolves))
    # Only a URL the import needs: one with a default (SQLite, say) needs no server.
    required = {r.name for r in found.reads}
    unclaimed = [n for n in read if _DATABASE_URL.fullmatch(n) and n in required - taken]
    if unclaimed and not any(p.server.database for p in chosen):
        notes.append(
            f"services: the app reads {unclaimed[0]} ({read[unclaimed[0]]}), but no driver in "
            "the lock or setting says which database server it is: if the tests need one, "
            "add it to [tool.containerize.test.services] (see the README)"
        )
    return Proposal(services=tuple(chosen), notes=tuple(notes), comment=_comment(chosen))


def mentioned(found: Found) -> Iterator[tuple[str, Evidence]]:
    """Every variable the import-time code reads from the environment, with a default
    or without (where the app looks for a service's address), first where first."""
    seen: set[str] = set()
    for read in found.reads:
        seen.add(read.name)
        yield read.name, read.evidence
    for source, body in found.code:
        for name, node in _reads_any(source, body):
            if name not in seen:
                seen.add(name)
                yield (
                    name,
                    Evidence(
                        what=quote(source.text, node), file=source.path.as_posix(), line=node.lineno
                    ),
                )


def _reads_any(source: SourceFile, body: Sequence[ast.stmt]) -> Iterator[tuple[str, ast.expr]]:
    names = Names(source.tree)
    for statement in body:
        for node in ast.walk(statement):
            if isinstance(node, ast.Subscript) and names.is_environ(node.value):
                if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                    yield node.slice.value, node
            elif isinstance(node, ast.Call):
                name = _called_with(node, names)
                if name:
                    yield name, node


def _called_with(call: ast.Call, names: Names) -> str | None:
    """The variable *call* reads: getenv/environ.get, decouple's config, an Env
    instance's ``env("X")``/``env.db()``, dj-database-url's ``config(env=...)``."""
    first = call.args[0] if call.args else None
    literal = (
        first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
    )
    func = call.func
    if names.is_getenv(func) or (isinstance(func, ast.Name) and func.id in names.decouple):
        return literal
    if isinstance(func, ast.Name) and func.id in names.env_instances:
        return literal
    if (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id in names.env_instances
    ):
        return literal or ENVIRON_DEFAULT_VARS.get(func.attr)
    reader = _URL_READERS.get(ast.unparse(func))
    if reader is not None:
        keyword = next((k.value for k in call.keywords if k.arg == "env"), None)
        if isinstance(keyword, ast.Constant) and isinstance(keyword.value, str):
            return keyword.value
        return reader or None
    return None


def _proposed(
    server: Server,
    host: str,
    wired: Sequence[str],
    why: tuple[Evidence | str, ...],
    resolves: Callable[[str], bool] | None,
) -> Proposed:
    image, image_why, step, note = _image(server, resolves)
    app_env: dict[str, str] = {}
    for name in wired:
        match = server.parts.fullmatch(name)
        if match is None:
            app_env[name] = server.url.format(host=host)
        elif (value := server.part_value(match["part"])) is not None:
            app_env[name] = host if value == server.host else value
    entry: dict[str, Any] = {"image": image, "port": server.port}
    if server.env:
        entry["env"] = dict(server.env)
    if app_env:
        entry["app-env"] = app_env
    if server.ready:
        entry["ready"] = list(server.ready)
    return Proposed(
        server=server,
        entry={host: entry},
        why=(*why, image_why),
        wired=tuple(app_env),
        build_step=step,
        image_note=note,
    )


def _image(
    server: Server, resolves: Callable[[str], bool] | None
) -> tuple[str, str, str | None, str | None]:
    """(image, why, the command that builds it if it must be built, a note)."""
    local = SERVICE_IMAGES.get(server.local) if server.local else None
    command = f"containerize service-image {server.local}" if server.local else None
    elsewhere = (
        f"where {server.official} cannot be pulled, '{command}' builds {local} from Debian's "
        "packages: name that in image"
        if local
        else f"containerize builds no {server.name} image: where {server.official} cannot "
        "be pulled, name one your engine can"
    )
    if resolves is None:
        return (
            server.official,
            f"{server.official}: not checked, no engine answered",
            None,
            (elsewhere),
        )
    if resolves(server.official):
        return server.official, f"{server.official} resolves here", None, None
    if local is None or command is None:
        return server.official, f"{server.official} does not resolve here", None, elsewhere
    if resolves(local):
        return (
            local,
            f"{server.official} does not resolve here; {local} does ('{command}')",
            (None),
            None,
        )
    return (
        local,
        f"{server.official} does not resolve here; '{command}' builds {local}",
        (command),
        None,
    )


def _comment(chosen: Sequence[Proposed]) -> str | None:
    if not chosen:
        return None
    lines = [
        "Proposed by containerize init. Each cell of the test matrix starts these beside",
        "the app on a private network, where a service's name is its host name; app-env",
        "gives the app their addresses (over test.env).",
    ]
    for proposed in chosen:
        lines += textwrap.wrap(f"{proposed.server.name}: {proposed.why[0]}.", 84)
        if not proposed.wired:
            lines.append(
                f"The settings read no variable for {proposed.server.name}'s address: make "
                "them read one, and name it in app-env."
            )
        if proposed.image_note:
            lines += textwrap.wrap(
                proposed.image_note[0].upper() + proposed.image_note[1:] + ".", 84
            )
    return "\n".join(lines)


def migrate_command(*, manage_py_in_app: bool, settings: str | None) -> str | None:
    """The migrations of a Django site, run in each cell before the server starts."""
    if manage_py_in_app:
        return "python manage.py migrate --noinput"
    if settings is not None:
        return f"python -m django migrate --noinput --settings {settings}"
    return None


def server(name: str) -> Server:
    return _BY_NAME[name]
