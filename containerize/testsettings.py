"""``[tool.containerize.test]``: what each cell of the test matrix checks, checked once.

Its keys, and those of its ``burst`` table and of each ``probes`` entry, are declared
here as :class:`~containerize.declare.Option` records, like the top-level keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from containerize import reference
from containerize.declare import (
    Option,
    Values,
    by_key,
    env_table,
    list_of,
    sub_int,
    sub_table,
    url_path,
)
from containerize.errors import ConfigError
from containerize.runtime import containerize_hosts

#: The images ``containerize service-image NAME`` builds from Debian's packages and
#: pushes to the loopback registry (:mod:`containerize.host.serviceimage`), by name;
#: ``containerize init`` proposes them where the official images cannot be pulled.
SERVICE_IMAGES = {
    "postgres": "127.0.0.1:5000/containerize/postgres:15-bookworm",
    "redis": "127.0.0.1:5000/containerize/redis:7-bookworm",
}

#: The container's temporary folder: a tmpfs when the image runs read-only.
CONTAINER_TMP = "/tmp"  # noqa: S108 (a path inside the container, not on this host)

PROBE_OPTIONS: tuple[Option, ...] = (
    Option(
        key="path",
        kind="str",
        expects="the URL path to GET (a query string is fine)",
        default=None,
        default_text="required",
    ),
    Option(key="host", kind="str", expects="the Host header", default="localhost"),
    Option(
        key="status",
        kind="int",
        expects="the status the answer must have",
        default=200,
        low=100,
        high=599,
    ),
    Option(key="contains", kind="str", expects="text the body must hold", default=None),
    Option(
        key="headers",
        kind="table",
        expects="header name = text that header's value must hold",
        default={},
    ),
)
BURST_OPTIONS: tuple[Option, ...] = (
    Option(key="requests", kind="int", expects="requests sent", default=100, low=1, high=10000),
    Option(
        key="concurrency",
        kind="int",
        expects="requests in flight at once",
        default=8,
        low=1,
        high=64,
    ),
)
SERVICE_OPTIONS: tuple[Option, ...] = (
    Option(
        key="image",
        kind="str",
        expects="the image to run, e.g. postgres:15, or the one containerize service-image builds",
        default=None,
        default_text="required",
    ),
    Option(
        key="port",
        kind="int",
        expects="the TCP port it listens on, waited for on the cell's private network",
        default=None,
        default_text="required",
        low=1,
        high=65535,
    ),
    Option(
        key="env",
        kind="table",
        expects="the service's own variables (name = text), e.g. POSTGRES_PASSWORD",
        default={},
    ),
    Option(
        key="app-env",
        kind="table",
        expects="variables given to the app (name = text); the service's name is its host "
        'name, e.g. DATABASE_URL = "postgres://postgres:pw@db:5432/postgres"',
        default={},
    ),
    Option(
        key="command",
        kind="list",
        expects="arguments that replace the image's command",
        default=(),
    ),
    Option(
        key="ready",
        kind="list",
        expects="a command run inside the service until it exits 0, e.g. "
        '["pg_isready", "-U", "postgres"] (default: a TCP connection to port)',
        default=(),
    ),
    Option(
        key="ready-timeout",
        kind="int",
        expects="seconds the service may take to be ready",
        default=60,
        low=1,
        high=3600,
    ),
)
TEST_OPTIONS: tuple[Option, ...] = (
    Option(
        key="probes",
        kind="tables",
        expects="HTTP checks, each a table of "
        + ", ".join(o.key for o in PROBE_OPTIONS)
        + " (default: one GET of healthcheck-path)",
        default=(),
    ),
    Option(
        key="ready-timeout",
        kind="int",
        expects="seconds to the first answer, natively (emulated platforms get 5x)",
        default=60,
        low=1,
        high=3600,
    ),
    Option(
        key="slow-path",
        kind="str",
        expects="a URL path that takes seconds, in flight when the stop signal comes",
        default=None,
    ),
    Option(
        key="size-budget",
        kind="str",
        expects='the unpacked size allowed per platform, e.g. "300 MiB" (or bytes)',
        default=None,
    ),
    Option(
        key="burst",
        kind="table",
        expects="a burst of concurrent requests: " + ", ".join(o.key for o in BURST_OPTIONS),
        default={},
        default_text="{ requests = 100, concurrency = 8 }",
    ),
    Option(
        key="read-only",
        kind="bool",
        expects="also serve once with a read-only root filesystem",
        default=False,
    ),
    Option(
        key="tmpfs",
        kind="list",
        expects="writable folders in the read-only run, as docker run --tmpfs takes them",
        default=(CONTAINER_TMP,),
    ),
    Option(
        key="pytest",
        kind="list",
        expects="the project's own tests (files or folders), run once per cell",
        default=(),
    ),
    Option(
        key="env",
        kind="table",
        expects="variables given to the app in tests only (name = text), never put in an image",
        default={},
    ),
    Option(
        key="env-file",
        kind="str",
        expects="a dotenv file of such variables, relative to pyproject.toml",
        default=None,
    ),
    Option(
        key="services",
        kind="table",
        expects="containers started beside the app in each cell, on a private network, "
        "by name: { image, port, env, app-env, command, ready, ready-timeout }",
        default={},
    ),
)
_TEST = by_key(TEST_OPTIONS)
_PROBE = by_key(PROBE_OPTIONS)
_BURST = by_key(BURST_OPTIONS)
_SERVICE = by_key(SERVICE_OPTIONS)
#: A service's name: its host name on the cell's network (an RFC 1123 label).
_SERVICE_NAME_RE = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_HOST_RE = containerize_hosts.ENTRY


@dataclass(frozen=True, kw_only=True)
class Probe:
    """One HTTP check: GET *path* with *host* as Host answers *status*, and holds
    *contains* in its body and each header's text in that header's value."""

    path: str
    host: str = "localhost"
    status: int = 200
    contains: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, kw_only=True)
class Service:
    """A container started beside the app in each cell: *name* is its host name there."""

    name: str
    image: str
    port: int
    env: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    app_env: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    command: tuple[str, ...] = ()
    ready: tuple[str, ...] = ()  # run inside it until it exits 0; empty: a TCP connect
    ready_timeout: int = 60


@dataclass(frozen=True, kw_only=True)
class TestSettings:
    """``[tool.containerize.test]``: what each cell of the test matrix checks."""

    probes: tuple[Probe, ...]
    ready_timeout: int = 60  # seconds to the first answer, natively; emulated gets 5x
    slow_path: str | None = None  # a request that takes seconds, for the SIGTERM check
    size_budget: int | None = None  # bytes, unpacked, per platform
    burst_requests: int = 100
    burst_concurrency: int = 8
    read_only: bool = False  # also run each image with a read-only root filesystem
    # Writable folders in the read-only run, as ``docker run --tmpfs`` takes them.
    tmpfs: tuple[str, ...] = (CONTAINER_TMP,)
    pytest: tuple[str, ...] = ()  # the user's own tests, run once per cell
    # Variables for the app under test only (the import check, the static command, the
    # matrix): never written into an image.
    env: tuple[tuple[str, str], ...] = ()
    env_file: Path | None = None  # a dotenv file of more, in the project
    services: tuple[Service, ...] = ()  # started beside the app, in name order


_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}


def check_test(table: dict[str, Any], where: str, values: Values) -> TestSettings:
    """The ``test`` table, with one probe of ``healthcheck-path`` when it lists none."""
    sub_table(
        table,
        where,
        TEST_OPTIONS,
        hint='write [tool.containerize.test] with keys such as size-budget = "150 MiB"',
    )
    at = {key: f"{where}.{key}" for key in _TEST}
    probes = tuple(
        _probe(item, f"{at['probes']}[{i}]")
        for i, item in enumerate(list_of(table.get("probes", []), at["probes"], "tables"))
    ) or (Probe(path=values.get("healthcheck-path")),)
    burst = sub_table(
        table.get("burst", {}),
        at["burst"],
        BURST_OPTIONS,
        hint="for example burst = { requests = 200, concurrency = 8 }",
    )
    slow_path = table.get("slow-path")
    if slow_path is not None:
        slow_path = url_path(slow_path, at["slow-path"])
    tmpfs = list_of(table.get("tmpfs", list(_TEST["tmpfs"].default)), at["tmpfs"], "strings")
    for i, folder in enumerate(tmpfs):
        if not isinstance(folder, str) or not re.fullmatch(
            r"(/[A-Za-z0-9._-]+)+(:[a-z0-9=,]+)?", folder
        ):
            raise ConfigError(
                f"{at['tmpfs']}[{i}]: {folder!r} is not an absolute folder path (with "
                "optional mount options)",
                hint='for example tmpfs = ["/tmp", "/home/app:size=16m"], as docker run '
                "--tmpfs takes them",
            )
    tests = list_of(table.get("pytest", []), at["pytest"], "strings")
    for i, path in enumerate(tests):
        if not isinstance(path, str) or not path.strip() or not path.isprintable():
            raise ConfigError(
                f"{at['pytest']}[{i}]: {path!r} is not a path",
                hint='name test files or folders of the project, e.g. pytest = ["tests/container"]',
            )
    read_only = table.get("read-only", _TEST["read-only"].default)
    if not isinstance(read_only, bool):
        raise ConfigError(f"{at['read-only']}: expected true or false, got {read_only!r}")
    return TestSettings(
        probes=probes,
        ready_timeout=sub_int(table, _TEST["ready-timeout"], where),
        slow_path=slow_path,
        size_budget=_size(table["size-budget"], at["size-budget"])
        if "size-budget" in table
        else None,
        burst_requests=sub_int(burst, _BURST["requests"], at["burst"]),
        burst_concurrency=sub_int(burst, _BURST["concurrency"], at["burst"]),
        read_only=read_only,
        tmpfs=tuple(tmpfs),
        pytest=tuple(tests),
        env=env_table(table.get("env", {}), at["env"]),
        env_file=_env_file(table.get("env-file"), at["env-file"], values.project_dir),
        services=_services(table.get("services", {}), at["services"]),
    )


def _services(value: object, where: str) -> tuple[Service, ...]:
    if not isinstance(value, dict):
        raise ConfigError(
            f"{where}: expected a table of service name = {{ image, port, ... }}, got {value!r}",
            hint='for example [tool.containerize.test.services] db = { image = "postgres:15", '
            "port = 5432 }",
        )
    found = [_service(name, item, f"{where}.{name}") for name, item in sorted(value.items())]
    seen: dict[str, str] = {}
    for service in found:
        for key, _ in service.app_env:
            if key in seen:
                raise ConfigError(
                    f"{where}: {key} is in the app-env of both {seen[key]!r} and {service.name!r}",
                    hint="give the app each variable once",
                )
            seen[key] = service.name
    return tuple(found)


def _service(name: str, item: object, where: str) -> Service:
    if not _SERVICE_NAME_RE.fullmatch(name):
        raise ConfigError(
            f"{where}: {name!r} cannot be a service name: it is the service's host name on "
            "the cell's network",
            hint="use lower-case letters, digits and '-' (up to 63), e.g. db or cache",
        )
    entry = sub_table(
        item,
        where,
        SERVICE_OPTIONS,
        hint=f'for example {name} = {{ image = "postgres:15", port = 5432 }}',
    )
    for key in ("image", "port"):
        if key not in entry:
            raise ConfigError(
                f"{where}: no {key!r}",
                hint='add image = "postgres:15"' if key == "image" else "add port = 5432",
            )
    image = entry["image"]
    if not isinstance(image, str):
        raise ConfigError(f"{where}.image: expected an image reference, got {image!r}")
    reference.parse(image, where=f"{where}.image")
    return Service(
        name=name,
        image=image,
        port=sub_int(entry, _SERVICE["port"], where),
        env=env_table(entry.get("env", {}), f"{where}.env"),
        app_env=env_table(entry.get("app-env", {}), f"{where}.app-env"),
        command=_argv(entry.get("command", []), f"{where}.command"),
        ready=_argv(entry.get("ready", []), f"{where}.ready"),
        ready_timeout=sub_int(entry, _SERVICE["ready-timeout"], where),
    )


def _argv(value: object, where: str) -> tuple[str, ...]:
    items = list_of(value, where, "strings")
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item or not item.isprintable():
            raise ConfigError(
                f"{where}[{i}]: {item!r} is not an argument",
                hint='write a list of arguments, e.g. ["pg_isready", "-U", "postgres"]',
            )
    return tuple(items)


def _env_file(value: object, where: str, project_dir: Path) -> Path | None:
    if value is None:
        return None
    posix = PurePosixPath(value) if isinstance(value, str) else None
    if (
        posix is None
        or not str(value).strip()
        or not str(value).isprintable()
        or posix.is_absolute()
        or "\\" in str(value)
    ):
        raise ConfigError(
            f"{where}: {value!r} is not a file path relative to pyproject.toml",
            hint='for example env-file = ".env.test"',
        )
    path = project_dir / posix
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise ConfigError(
            f"{where}: {path} {what}",
            hint="create it (lines of NAME=value), or remove the key",
        )
    return path


def _probe(item: object, where: str) -> Probe:
    entry = sub_table(
        item,
        where,
        PROBE_OPTIONS,
        hint='for example { path = "/", status = 200, contains = "Welcome" }',
    )
    if "path" not in entry:
        raise ConfigError(f"{where}: no 'path'", hint='add path = "/" (a URL path)')
    host = entry.get("host", _PROBE["host"].default)
    if not isinstance(host, str) or not _HOST_RE.fullmatch(host.rsplit(":", 1)[0]):
        raise ConfigError(f"{where}.host: {host!r} is not a host name", hint="e.g. 'example.com'")
    contains = entry.get("contains")
    if contains is not None and (not isinstance(contains, str) or not contains):
        raise ConfigError(f"{where}.contains: expected some text, got {contains!r}")
    headers = entry.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k.isprintable() and v.isprintable()
        for k, v in headers.items()
    ):
        raise ConfigError(
            f"{where}.headers: expected a table of header name to text, got {headers!r}",
            hint='for example headers = { "Content-Type" = "text/html" }',
        )
    return Probe(
        path=url_path(entry["path"], f"{where}.path"),
        host=host,
        status=sub_int(entry, _PROBE["status"], where),
        contains=contains,
        headers=tuple(sorted(headers.items())),
    )


def _size(value: object, where: str) -> int:
    """Bytes from ``150 MiB``, ``1.5 GB`` or a plain number of bytes."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = (
        re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*", value)
        if isinstance(value, str)
        else None
    )
    unit = _SIZE_UNITS.get(match[2].lower()) if match else None
    if match is None or unit is None or float(match[1]) <= 0:
        raise ConfigError(
            f"{where}: {value!r} is not a size",
            hint='write a number and a unit, e.g. "150 MiB" or "0.5 GB" (B, kB, MB, GB, '
            "KiB, MiB, GiB)",
        )
    return int(float(match[1]) * unit)
