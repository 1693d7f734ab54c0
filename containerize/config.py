"""``[tool.containerize]``: what to build, read once into a frozen :class:`Config`.

Sources are layered in a fixed order, first wins: command-line overrides, then
``CONTAINERIZE_*`` environment variables, then ``pyproject.toml``, then defaults.
Unknown keys are rejected with the nearest valid key suggested.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from containerize import servers
from containerize.errors import ConfigError
from containerize.platforms import Platform

DEFAULT_BASE_IMAGE = "python:3.11-slim-bookworm"
DEFAULT_EXCLUDES = (
    ".git",
    ".hg",
    ".svn",
    ".env",
    ".env.*",
    ".venv",
    "venv",
    ".nox",
    ".tox",
    ".containerize",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "__pycache__",
    "*.pyc",
    "tests",
    "test",
    "noxfile.py",
    "Dockerfile",
    ".dockerignore",
    "build",
    "dist",
    "*.egg-info",
    "node_modules",
)

_APP_RE = re.compile(
    r"^(?P<module>[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*)(?::(?P<callable>[A-Za-z_]\w*))?$"
)
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_IMAGE_RE = re.compile(
    r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*$"
)


@dataclass(frozen=True, kw_only=True)
class AppSpec:
    """The WSGI application: a module and the callable in it."""

    module: str
    callable: str = "application"

    def __str__(self) -> str:
        return f"{self.module}:{self.callable}"

    @property
    def script(self) -> str:
        """The module as a file path relative to the application root."""
        return self.module.replace(".", "/") + ".py"


@dataclass(frozen=True, kw_only=True)
class Config:
    """Everything ``[tool.containerize]`` and its overrides say about the build."""

    project_dir: Path
    name: str
    version: str
    app: AppSpec
    image: str
    base_image: str
    platforms: tuple[Platform, ...]
    servers: tuple[str, ...]
    port: int
    workers: int
    lock: Path | None
    groups: tuple[str, ...]
    extras: tuple[str, ...]
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    build_dir: Path
    uid: int
    gid: int
    healthcheck_path: str
    env: tuple[tuple[str, str], ...]
    builder: str | None
    cache_from: tuple[str, ...]
    cache_to: tuple[str, ...]
    source: str | None
    # What the base image is assumed to hold when it cannot be probed (a dry run
    # without an engine); a probe of the real image always wins.
    python_version: tuple[int, int] = (3, 11)
    libc: tuple[Literal["glibc", "musl"], tuple[int, int]] = ("glibc", (2, 36))

    @property
    def pins_file(self) -> Path:
        """The file, committed by the user, that pins the base image by digest."""
        return self.project_dir / "containerize.lock"


# key -> (type check, description for errors)
_KEYS: dict[str, str] = {
    "app": "string 'module:callable'",
    "image": "image repository, e.g. 'registry.example/team/app'",
    "base-image": "image reference",
    "platforms": "list of 'os/arch' strings",
    "servers": "list of server names",
    "port": "integer 1-65535",
    "workers": "integer >= 1",
    "lock": "path to poetry.lock, pylock.toml or uv.lock",
    "groups": "list of dependency group names",
    "extras": "list of extra names",
    "include": "list of glob patterns",
    "exclude": "list of glob patterns",
    "build-dir": "path",
    "uid": "integer",
    "gid": "integer",
    "healthcheck-path": "URL path starting with '/'",
    "env": "table of environment variables",
    "builder": "buildx builder name",
    "cache-from": "list of buildx cache sources",
    "cache-to": "list of buildx cache destinations",
    "source": "URL of the source repository (OCI label)",
    "python-version": "the base image's Python as 'X.Y', for planning without an engine",
    "libc": "the base image's C library, 'glibc-2.36' or 'musl-1.2', for planning without "
    "an engine",
}

# Environment variables that may override a key, CONTAINERIZE_<KEY>.
_ENV_KEYS = ("platforms", "servers", "builder", "image", "base-image", "build-dir")


def load(
    project_dir: Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Read ``project_dir/pyproject.toml`` and layer *overrides* and *environ* over it."""
    project_dir = project_dir.resolve()
    pyproject = project_dir / "pyproject.toml"
    data, table = _read(pyproject)
    layered = _layer(table, overrides or {}, os.environ if environ is None else environ)
    where = f"{pyproject.name}: tool.containerize"
    name, version = _project_identity(data, pyproject)

    app = _app(layered, where)
    platforms = _platforms(layered, where)
    server_names = _servers(layered, where)

    image = _get(layered, "image", str, where, default=name)
    if not _IMAGE_RE.match(image):
        raise ConfigError(
            f"{where}.image: {image!r} is not an image repository",
            hint="use lowercase letters, digits, '.', '_', '-' and '/', without a tag",
        )

    port = _get(layered, "port", int, where, default=8000)
    if not 1 <= port <= 65535:
        raise ConfigError(f"{where}.port: {port} is not a TCP port (1-65535)")
    workers = _get(layered, "workers", int, where, default=2)
    if workers < 1:
        raise ConfigError(f"{where}.workers must be at least 1, not {workers}")

    lock_text = _get(layered, "lock", str, where, default=None)
    lock = (project_dir / lock_text) if lock_text else None
    if lock is not None and not lock.is_file():
        raise ConfigError(f"{where}.lock: {lock} does not exist")

    healthcheck_path = _get(layered, "healthcheck-path", str, where, default="/")
    if not healthcheck_path.startswith("/"):
        raise ConfigError(f"{where}.healthcheck-path must start with '/': {healthcheck_path!r}")

    env = _env(layered, where)

    uid = _get(layered, "uid", int, where, default=10001)
    gid = _get(layered, "gid", int, where, default=uid)
    if uid <= 0 or gid <= 0:
        raise ConfigError(f"{where}: uid and gid must be positive: the image never runs as root")

    return Config(
        project_dir=project_dir,
        name=name,
        version=version,
        app=app,
        image=image,
        base_image=_get(layered, "base-image", str, where, default=DEFAULT_BASE_IMAGE),
        platforms=platforms,
        servers=server_names,
        port=port,
        workers=workers,
        lock=lock,
        groups=tuple(_get_list(layered, "groups", where, default=["main"])),
        extras=tuple(_get_list(layered, "extras", where, default=[])),
        include=tuple(_get_list(layered, "include", where, default=[])),
        exclude=tuple(_get_list(layered, "exclude", where, default=[])),
        build_dir=project_dir / _get(layered, "build-dir", str, where, default=".containerize"),
        uid=uid,
        gid=gid,
        healthcheck_path=healthcheck_path,
        env=tuple(env),
        builder=_get(layered, "builder", str, where, default=None),
        cache_from=tuple(_get_list(layered, "cache-from", where, default=[])),
        cache_to=tuple(_get_list(layered, "cache-to", where, default=[])),
        source=_get(layered, "source", str, where, default=None),
        python_version=_python_version(layered, where),
        libc=_libc(layered, where),
    )


def _read(pyproject: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The whole pyproject document and its checked ``[tool.containerize]`` table."""
    try:
        data = tomllib.loads(pyproject.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"no pyproject.toml in {pyproject.parent}",
            hint="run containerize from the project's directory, or pass --project DIR",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{pyproject}: not valid TOML: {exc}") from None
    table = data.get("tool", {}).get("containerize")
    if table is None:
        raise ConfigError(
            f"{pyproject}: no [tool.containerize] table",
            hint='add one, for example:\n\n[tool.containerize]\napp = "myapp.wsgi:application"\n',
        )
    if not isinstance(table, dict):
        raise ConfigError(f"{pyproject}: tool.containerize must be a table")
    _reject_unknown(table, pyproject)
    return data, table


def _layer(
    table: Mapping[str, Any], overrides: Mapping[str, Any], environ: Mapping[str, str]
) -> dict[str, Any]:
    """pyproject, then CONTAINERIZE_* variables, then command-line overrides on top."""
    layered = dict(table)
    for key in _ENV_KEYS:
        var = "CONTAINERIZE_" + key.upper().replace("-", "_")
        if environ.get(var):
            value: Any = environ[var]
            if key in ("platforms", "servers"):
                value = [item for item in re.split(r"[,\s]+", value) if item]
            layered[key] = value
    for key, value in overrides.items():
        if key not in _KEYS:
            raise ConfigError(f"unknown override {key!r}")
        if value is not None:
            layered[key] = value
    return layered


def _app(layered: Mapping[str, Any], where: str) -> AppSpec:
    text = _get(layered, "app", str, where, default=None)
    if text is None:
        raise ConfigError(
            f"{where}.app is missing",
            hint='name the WSGI callable, for example app = "myproject.wsgi:application"',
        )
    match = _APP_RE.match(text)
    if match is None:
        raise ConfigError(
            f"{where}.app: {text!r} is not 'module:callable'",
            hint='for a file hello.py defining application, write app = "hello:application"',
        )
    return AppSpec(module=match["module"], callable=match["callable"] or "application")


def _platforms(layered: Mapping[str, Any], where: str) -> tuple[Platform, ...]:
    texts = _get_list(layered, "platforms", where, default=["linux/amd64", "linux/arm64"])
    platforms = tuple(
        Platform.parse(text, where=f"{where}.platforms[{i}]") for i, text in enumerate(texts)
    )
    if not platforms:
        raise ConfigError(f"{where}.platforms is empty", hint="list at least one platform")
    if len(set(platforms)) != len(platforms):
        raise ConfigError(f"{where}.platforms lists a platform twice")
    return platforms


def _servers(layered: Mapping[str, Any], where: str) -> tuple[str, ...]:
    names = tuple(_get_list(layered, "servers", where, default=["gunicorn"]))
    if not names:
        raise ConfigError(
            f"{where}.servers is empty", hint=f"choose from {', '.join(servers.names())}"
        )
    for i, name in enumerate(names):
        servers.get(name, where=f"{where}.servers[{i}]")
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}.servers lists a server twice")
    return names


def _python_version(layered: Mapping[str, Any], where: str) -> tuple[int, int]:
    text = _get(layered, "python-version", str, where, default="3.11")
    match = re.fullmatch(r"3\.(\d+)", text)
    if match is None:
        raise ConfigError(f"{where}.python-version: {text!r} is not '3.X'", hint="e.g. '3.12'")
    return (3, int(match[1]))


def _libc(
    layered: Mapping[str, Any], where: str
) -> tuple[Literal["glibc", "musl"], tuple[int, int]]:
    text = _get(layered, "libc", str, where, default="glibc-2.36")
    match = re.fullmatch(r"(glibc|musl)-(\d+)\.(\d+)", text)
    if match is None:
        raise ConfigError(
            f"{where}.libc: {text!r} is not a C library version",
            hint="write 'glibc-2.36' (Debian 12) or 'musl-1.2' (Alpine)",
        )
    name: Literal["glibc", "musl"] = "glibc" if match[1] == "glibc" else "musl"
    return (name, (int(match[2]), int(match[3])))


def _env(layered: Mapping[str, Any], where: str) -> tuple[tuple[str, str], ...]:
    table = _get(layered, "env", dict, where, default={})
    env = []
    for key, value in sorted(table.items()):
        if not _ENV_NAME_RE.match(key):
            raise ConfigError(
                f"{where}.env: {key!r} is not an environment variable name",
                hint="use letters, digits and '_', not starting with a digit",
            )
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ConfigError(f"{where}.env.{key} must be a string or number")
        env.append((str(key), str(value)))
    return tuple(env)


def _reject_unknown(table: Mapping[str, Any], pyproject: Path) -> None:
    for key in table:
        if key not in _KEYS:
            close = difflib.get_close_matches(key, list(_KEYS), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(_KEYS)}"
            raise ConfigError(
                f"{pyproject.name}: tool.containerize: unknown key {key!r}", hint=hint
            )


def _project_identity(data: Mapping[str, Any], pyproject: Path) -> tuple[str, str]:
    project = data.get("project") or {}
    poetry = data.get("tool", {}).get("poetry") or {}
    name = project.get("name") or poetry.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(
            f"{pyproject.name}: no project name",
            hint="set [project] name (or [tool.poetry] name)",
        )
    version = project.get("version") or poetry.get("version") or "0"
    return name, str(version)


def _get(table: Mapping[str, Any], key: str, kind: type, where: str, *, default: Any) -> Any:
    if key not in table:
        return default
    value = table[key]
    if kind is int and isinstance(value, bool):
        value = None
    if not isinstance(value, kind):
        raise ConfigError(
            f"{where}.{key}: expected {_KEYS[key]}, got {value!r}",
        )
    return value


def _get_list(
    table: Mapping[str, Any], key: str, where: str, *, default: Sequence[str]
) -> list[str]:
    if key not in table:
        return list(default)
    value = table[key]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}.{key}: expected {_KEYS[key]}, got {value!r}")
    return list(value)
