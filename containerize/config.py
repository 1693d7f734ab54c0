"""``[tool.containerize]``: what to build, read once into a frozen :class:`Config`.

Every key is declared once, in :data:`OPTIONS`: its name, what it expects, its default,
and whether a ``CONTAINERIZE_*`` variable or a command-line flag may set it. Sources are
layered in a fixed order, first wins: the command line, then the environment, then
``pyproject.toml``, then the defaults. Every source goes through the same validation,
and an error names where the bad value came from: the flag, the variable, or the file
and key. Unknown keys are rejected with the nearest valid key suggested.
"""

from __future__ import annotations

import ast
import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from containerize import project as project_mod
from containerize import reference, servers, syspackages
from containerize.errors import ConfigError
from containerize.platforms import Platform, parse_platforms
from containerize.project import ProjectMetadata
from containerize.release import tags
from containerize.runtime import containerize_hosts

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

Kind = Literal["str", "int", "bool", "list", "table"]


@dataclass(frozen=True, kw_only=True)
class Option:
    """One ``[tool.containerize]`` key, declared once."""

    key: str
    kind: Kind
    expects: str  # what a valid value looks like, for errors and documentation
    default: Any
    env: bool = False  # CONTAINERIZE_<KEY> may set it
    flag: str | None = None  # the command-line flag that sets it

    @property
    def env_var(self) -> str:
        return "CONTAINERIZE_" + self.key.upper().replace("-", "_")


# Keys of the [tool.containerize.test] table: what each cell of the test matrix checks.
_TEST_KEYS = (
    "probes",
    "ready-timeout",
    "slow-path",
    "size-budget",
    "burst",
    "read-only",
    "tmpfs",
    "pytest",
)
_PROBE_KEYS = ("path", "host", "status", "contains", "headers")
#: The container's temporary folder: a tmpfs when the image runs read-only.
CONTAINER_TMP = "/tmp"  # noqa: S108 (a path inside the container, not on this host)

OPTIONS: tuple[Option, ...] = (
    Option(
        key="app",
        kind="str",
        expects="'module:callable', a factory 'module:function()' (literal arguments "
        "allowed), a WSGI script file 'path/app.wsgi', or a Paste Deploy file "
        "'path/app.ini' (with '#name' for an app other than main)",
        default=None,
    ),
    Option(
        key="app-directory",
        kind="str",
        expects="the folder the application is imported and run from, relative to "
        "pyproject.toml ('site' for site/manage.py; '.' for the project's own folder)",
        default=".",
        env=True,
    ),
    Option(
        key="image",
        kind="str",
        expects="an image repository without a tag, e.g. 'registry.example/team/app'",
        default=None,  # the project's name
        env=True,
    ),
    Option(
        key="base-image",
        kind="str",
        expects="an image reference",
        default="python:3.11-slim-bookworm",
        env=True,
    ),
    Option(
        key="platforms",
        kind="list",
        expects="a list of 'os/arch' platforms",
        default=("linux/amd64", "linux/arm64"),
        env=True,
        flag="--platform",
    ),
    Option(
        key="servers",
        kind="list",
        expects=f"a list of server names ({', '.join(servers.names())})",
        default=("gunicorn",),
        env=True,
        flag="--server",
    ),
    Option(key="port", kind="int", expects="a TCP port, 1-65535", default=8000),
    # The servers' defaults; each can also be set per container (WSGI_WORKERS, ...).
    Option(
        key="workers",
        kind="int",
        expects="worker processes, 1-1024 (default: 2 x the container's CPUs + 1, at start)",
        default=None,
    ),
    Option(
        key="threads",
        kind="int",
        expects="threads per worker, 1-1024 (default: the server's own)",
        default=None,
    ),
    Option(key="timeout", kind="int", expects="seconds a request may take, 1-86400", default=30),
    Option(
        key="keep-alive",
        kind="int",
        expects="seconds an idle keep-alive connection stays open, 1-3600",
        default=5,
    ),
    Option(
        key="grace-period",
        kind="int",
        expects="seconds in-flight requests get to finish after SIGTERM, 1-3600 (keep it "
        "below the engine's stop timeout, 10 s by default)",
        default=8,
    ),
    Option(
        key="allowed-hosts",
        kind="list",
        expects="a list of host names ('example.com', '.example.com' for a domain and "
        "its subdomains, '*' for any)",
        default=("*",),
    ),
    Option(
        key="import-check",
        kind="bool",
        expects="true or false: import the app once at build time",
        default=True,
        env=True,
    ),
    Option(
        key="lock",
        kind="str",
        expects="the path of the lock file (poetry.lock, uv.lock, pylock.toml or a hashed "
        "requirements.txt)",
        default=None,
    ),
    Option(key="groups", kind="list", expects="a list of dependency groups", default=("main",)),
    Option(key="extras", kind="list", expects="a list of extras", default=()),
    Option(key="include", kind="list", expects="a list of glob patterns", default=()),
    Option(key="exclude", kind="list", expects="a list of glob patterns", default=()),
    Option(
        key="build-dir",
        kind="str",
        expects="a folder for containerize's own output, inside the project",
        default=".containerize",
        env=True,
    ),
    Option(key="uid", kind="int", expects="a user id, 1-2147483647", default=10001),
    Option(key="gid", kind="int", expects="a group id, 1-2147483647 (default: uid)", default=None),
    Option(
        key="static",
        kind="table",
        expects="a table with 'url' (a URL prefix such as '/static/'), 'dir' (a folder of "
        "the app) and optionally 'command' (an argv run at build time that fills it)",
        default=None,
    ),
    Option(key="healthcheck-path", kind="str", expects="a URL path starting with '/'", default="/"),
    Option(
        key="test",
        kind="table",
        expects="a table of what 'containerize test' checks in each running image: "
        f"{', '.join(_TEST_KEYS)}",
        default={},
    ),
    Option(key="env", kind="table", expects="a table of environment variables", default={}),
    Option(
        key="builder",
        kind="str",
        expects="a buildx builder name",
        default=None,
        env=True,
        flag="--builder",
    ),
    Option(
        key="cache-from",
        kind="list",
        expects="a list of buildx cache sources",
        default=(),
        flag="--cache-from",
    ),
    Option(
        key="cache-to",
        kind="list",
        expects="a list of buildx cache destinations",
        default=(),
        flag="--cache-to",
    ),
    Option(
        key="source", kind="str", expects="the source repository's URL (OCI label)", default=None
    ),
    Option(
        key="tag-templates",
        kind="table",
        expects="a table of server name = a list of release tag templates, such as "
        "gunicorn = ['{version}', '{major}.{minor}', 'latest'] (placeholders {version}, "
        "{major}, {minor}, {server}, {sha})",
        default={},
    ),
    Option(
        key="python-version",
        kind="str",
        expects="the base image's Python as '3.X', for planning without an engine",
        default="3.11",
    ),
    Option(
        key="libc",
        kind="str",
        expects="the base image's C library, 'glibc-2.36' or 'musl-1.2', for planning "
        "without an engine",
        default="glibc-2.36",
    ),
    # --- system packages (containerize.syspackages) ---
    Option(
        key="system-packages",
        kind="table",
        expects="a table of Debian packages: 'build' (to compile sdists), 'run' (in every "
        "image), and 'sdists' (per Python package: { build = [...], run = [...] })",
        default=None,
    ),
)

_BY_KEY = {option.key: option for option in OPTIONS}
# CONTAINERIZE_* variables that are not options: the download cache, the engine's
# state folder (root provisioning), the test suite's golden-file switch, and the cell
# a project's own tests run against (set by the test matrix for pytest).
_OTHER_VARIABLES = (
    "CONTAINERIZE_CACHE_DIR",
    "CONTAINERIZE_ENGINE_DIR",
    "CONTAINERIZE_REGEN",
    "CONTAINERIZE_TEST_CELL",
)

_APP_RE = re.compile(
    r"^(?P<module>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)"
    r"(?::(?P<callable>[A-Za-z_]\w*)(?P<call>\(.*\))?)?$",
    re.ASCII | re.DOTALL,
)
# A DNS name (a leading '.' for a domain and its subdomains) or a bracketed IPv6 address:
# the grammar the image checks WSGI_ALLOWED_HOSTS with at start.
_HOST_RE = containerize_hosts.ENTRY
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_ID = 2**31 - 1


AppKind = Literal["callable", "factory", "script", "paste"]


@dataclass(frozen=True, kw_only=True)
class AppSpec:
    """The WSGI application, as ``tool.containerize.app`` names it."""

    kind: AppKind
    module: str | None = None  # callable and factory
    callable: str | None = None  # callable and factory
    args: str | None = None  # factory: the literal arguments' source, checked
    path: str | None = None  # script and paste: a POSIX path relative to the app folder
    section: str | None = None  # paste: the app's name in the ini file

    def __str__(self) -> str:
        if self.kind == "callable":
            return f"{self.module}:{self.callable}"
        if self.kind == "factory":
            return f"{self.module}:{self.callable}({self.args})"
        return f"{self.path}#{self.section}" if self.section else str(self.path)

    def files(self) -> tuple[str, ...]:
        """The app folder's files, one of which must go into the image for the app to load."""
        if self.module is None:
            return (str(self.path),)
        base = self.module.replace(".", "/")
        return (f"{base}.py", f"{base}/__init__.py")

    def to_json(self) -> dict[str, str | None]:
        return {
            "kind": self.kind,
            "module": self.module,
            "callable": self.callable,
            "args": self.args,
            "path": self.path,
            "section": self.section,
        }


@dataclass(frozen=True, kw_only=True)
class StaticFiles:
    """Static files: served under *url* from *dir* (relative to the app folder)."""

    url: str  # starts and ends with '/'
    dir: str  # a relative POSIX path inside the app folder
    command: tuple[str, ...] = ()  # run at build time in the app folder, e.g. collectstatic


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


@dataclass(frozen=True, kw_only=True)
class Config:
    """Everything ``[tool.containerize]`` and its overrides say about the build."""

    project_dir: Path
    project: ProjectMetadata  # pyproject.toml, read once
    name: str
    version: str
    app: AppSpec
    # The folder the app is copied from, imported from and run in, relative to
    # project_dir ('.' for project_dir itself); app, static.dir and the include and
    # exclude patterns are relative to it.
    app_directory: PurePosixPath
    image: str
    base_image: str
    platforms: tuple[Platform, ...]
    servers: tuple[str, ...]
    port: int
    workers: int | None  # None: from the container's CPUs when it starts
    threads: int | None  # None: the server's default
    timeout: int
    keep_alive: int
    grace_period: int
    allowed_hosts: tuple[str, ...]
    import_check: bool
    lock: Path | None
    groups: tuple[str, ...]
    extras: tuple[str, ...]
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    build_dir: Path
    uid: int
    gid: int
    healthcheck_path: str
    static: StaticFiles | None
    test: TestSettings
    env: tuple[tuple[str, str], ...]
    builder: str | None
    cache_from: tuple[str, ...]
    cache_to: tuple[str, ...]
    source: str | None
    # What the base image is assumed to hold when it cannot be probed (a dry run
    # without an engine); a probe of the real image always wins.
    python_version: tuple[int, int] = (3, 11)
    libc: tuple[Literal["glibc", "musl"], tuple[int, int]] = ("glibc", (2, 36))
    # A server's own release tags, in place of the default scheme (release/tags.py).
    tag_templates: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Debian packages to compile sdists and to run them (containerize.syspackages).
    system_packages: syspackages.SystemPackages = syspackages.NONE

    @property
    def app_root(self) -> Path:
        """The app folder on this machine."""
        return self.project_dir / self.app_directory

    @property
    def pins_file(self) -> Path:
        """The file, committed by the user, that pins the base image by digest."""
        return self.project_dir / "containerize.lock"


def load(
    project_dir: Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    project: ProjectMetadata | None = None,
) -> Config:
    """Read ``project_dir/pyproject.toml`` and layer *environ* and *overrides* over it.

    *overrides* are command-line values by key (``{"platforms": [...]}``); ``None``
    values are ignored, so a flag that was not given changes nothing. *project*, when
    given, stands for the file (``containerize init`` checks a table before writing it).
    """
    project_dir = project_dir.resolve()
    project = project or project_mod.load(project_dir)
    values = _Values(
        table=_table(project),
        file=project.path.name,
        overrides=overrides or {},
        environ=os.environ if environ is None else environ,
    )
    if project.name is None:
        raise ConfigError(
            f"{project.path.name}: no project name",
            hint="set [project] name (or [tool.poetry] name)",
        )
    name = str(project.name)
    uid = _id(values, "uid")
    build_dir = _build_dir(values, project_dir)
    app_directory = _app_directory(values, project_dir, build_dir)
    return Config(
        project_dir=project_dir,
        project=project,
        name=name,
        version=project.version or "0",
        app=_app(values, project_dir / app_directory),
        app_directory=app_directory,
        image=_image(values, default=name),
        base_image=str(
            reference.parse(values.string("base-image"), where=values.where("base-image"))
        ),
        platforms=_platforms(values),
        servers=_servers(values),
        port=values.integer("port", low=1, high=65535, problem="not a TCP port"),
        workers=values.optional_integer("workers", low=1, high=1024),
        threads=values.optional_integer("threads", low=1, high=1024),
        timeout=values.integer("timeout", low=1, high=86400, problem="out of range"),
        keep_alive=values.integer("keep-alive", low=1, high=3600, problem="out of range"),
        grace_period=values.integer("grace-period", low=1, high=3600, problem="out of range"),
        allowed_hosts=_allowed_hosts(values),
        import_check=values.boolean("import-check"),
        lock=_lock(values, project_dir),
        groups=values.strings("groups"),
        extras=values.strings("extras"),
        include=values.strings("include"),
        exclude=values.strings("exclude"),
        build_dir=build_dir,
        uid=uid,
        gid=_id(values, "gid", default=uid),
        healthcheck_path=_healthcheck_path(values),
        static=_static(values),
        test=_test(values, healthcheck_path=_healthcheck_path(values)),
        env=_env(values),
        builder=values.optional_string("builder"),
        cache_from=values.strings("cache-from"),
        cache_to=values.strings("cache-to"),
        source=values.optional_string("source"),
        python_version=_python_version(values),
        libc=_libc(values),
        tag_templates=_tag_templates(values),
        system_packages=syspackages.parse(*values.raw("system-packages")),
    )


def _id(values: _Values, key: str, default: int | None = None) -> int:
    value, where = values.raw(key)
    if type(value) is int and value == 0:
        raise ConfigError(
            f"{where}: 0 is root, and the image never runs as root",
            hint=f"use {_BY_KEY[key].expects}",
        )
    return values.integer(key, low=1, high=_MAX_ID, problem="out of range", default=default)


def _table(project: ProjectMetadata) -> Mapping[str, Any]:
    """The checked ``[tool.containerize]`` table of *project*."""
    tool = (project.data or {}).get("tool", {})
    table = tool.get("containerize") if isinstance(tool, dict) else None
    if table is None:
        raise ConfigError(
            f"{project.path}: no [tool.containerize] table",
            hint='add one, for example:\n\n[tool.containerize]\napp = "myapp.wsgi:application"\n',
        )
    if not isinstance(table, dict):
        raise ConfigError(f"{project.path}: tool.containerize must be a table")
    for key in table:
        if key not in _BY_KEY:
            close = difflib.get_close_matches(key, list(_BY_KEY), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(_BY_KEY)}"
            raise ConfigError(
                f"{project.path.name}: tool.containerize: unknown key {key!r}", hint=hint
            )
    return table


class _Values:
    """Each key's raw value and where it came from, first source wins."""

    def __init__(
        self,
        *,
        table: Mapping[str, Any],
        file: str,
        overrides: Mapping[str, Any],
        environ: Mapping[str, str],
    ) -> None:
        self._table = table
        self._file = file
        self._overrides = overrides
        self._environ = environ
        for key in overrides:
            if key not in _BY_KEY:
                raise ConfigError(f"unknown override {key!r}")
        known = [o.env_var for o in OPTIONS if o.env] + list(_OTHER_VARIABLES)
        for name in sorted(environ):
            if name.startswith("CONTAINERIZE_") and name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                raise ConfigError(
                    f"unknown variable {name} in the environment",
                    hint=(f"did you mean {close[0]}? " if close else "")
                    + f"containerize reads {', '.join(sorted(known))}",
                )

    def raw(self, key: str) -> tuple[Any, str]:
        """(value, where) for *key*; where names the flag, variable, file key or default."""
        option = _BY_KEY[key]
        if self._overrides.get(key) is not None:
            return self._overrides[key], option.flag or f"--{key}"
        if option.env and self._environ.get(option.env_var):
            text = self._environ[option.env_var]
            where = option.env_var
            if option.kind == "list":
                return [item for item in re.split(r"[,\s]+", text) if item], where
            return text, where
        if key in self._table:
            return self._table[key], f"{self._file}: tool.containerize.{key}"
        return option.default, f"tool.containerize.{key} (default)"

    def where(self, key: str) -> str:
        return self.raw(key)[1]

    def optional_string(self, key: str) -> str | None:
        value, where = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected {_BY_KEY[key].expects}, got {value!r}")
        if not value.strip():
            default = _BY_KEY[key].default
            hint = "remove it for the default" + (
                f" ({default})" if isinstance(default, str) else ""
            )
            if key == "app":
                hint = 'name the WSGI application, e.g. app = "myproject.wsgi:application"'
            raise ConfigError(f"{where} is empty: expected {_BY_KEY[key].expects}", hint=hint)
        if not value.isprintable():
            raise ConfigError(
                f"{where}: {value!r} holds a newline or another control character",
                hint="write it on one line, without control characters",
            )
        return value

    def string(self, key: str) -> str:
        value = self.optional_string(key)
        if value is None:
            raise ConfigError(f"{self.where(key)} is missing: expected {_BY_KEY[key].expects}")
        return value

    def integer(
        self, key: str, *, low: int, high: int, problem: str, default: int | None = None
    ) -> int:
        value, where = self.raw(key)
        if value is None and default is not None:
            return default
        if isinstance(value, str) and where.startswith("CONTAINERIZE_"):
            value = int(value) if value.strip().isdigit() else value
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected {_BY_KEY[key].expects}, got {value!r}")
        if not low <= value <= high:
            raise ConfigError(f"{where}: {value} is {problem}", hint=f"use {_BY_KEY[key].expects}")
        return value

    def optional_integer(self, key: str, *, low: int, high: int) -> int | None:
        if self.raw(key)[0] is None:
            return None
        return self.integer(key, low=low, high=high, problem="out of range")

    def boolean(self, key: str) -> bool:
        value, where = self.raw(key)
        if isinstance(value, str) and where.startswith("CONTAINERIZE_"):
            words = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
            if value.strip().lower() in words:
                return words[value.strip().lower()]
        if not isinstance(value, bool):
            raise ConfigError(
                f"{where}: expected {_BY_KEY[key].expects}, got {value!r}",
                hint="in pyproject.toml write true or false, without quotes; in a variable, "
                "1/0, true/false or yes/no",
            )
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value, where = self.raw(key)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: expected {_BY_KEY[key].expects}, got {value!r}")
        for i, item in enumerate(value):
            if not item.isprintable():
                raise ConfigError(
                    f"{where}[{i}]: {item!r} holds a newline or another control character",
                    hint="write it on one line, without control characters",
                )
            if not item.strip() and key in ("cache-from", "cache-to"):
                raise ConfigError(
                    f"{where}[{i}] is empty", hint=f"give {_BY_KEY[key].expects}, or leave it out"
                )
        return tuple(value)

    def table(self, key: str) -> Mapping[str, Any]:
        value, where = self.raw(key)
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected {_BY_KEY[key].expects}, got {value!r}")
        return value


def _app_directory(values: _Values, project_dir: Path, build_dir: Path) -> PurePosixPath:
    """The app folder: an existing folder inside the project, not in the build folder.

    *project_dir* and *build_dir* are resolved. A symbolic link that stays inside the
    project is followed; one that leads out of it is refused, since the image would
    then hold files from elsewhere.
    """
    text, where = values.string("app-directory"), values.where("app-directory")
    posix = PurePosixPath(text)
    if "\\" in text or posix.is_absolute() or ".." in posix.parts:
        raise ConfigError(
            f"{where}: {text!r} is not a folder inside the project",
            hint="name it relative to pyproject.toml, without '..', e.g. 'site' for "
            "site/manage.py; '.' is the project's own folder",
        )
    folder = project_dir / posix
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise ConfigError(
            f"{where}: {folder} {what}",
            hint="name the folder that holds the application's code (Django: the one "
            "with manage.py), relative to pyproject.toml",
        )
    real = folder.resolve()
    if not real.is_relative_to(project_dir):
        raise ConfigError(
            f"{where}: {text!r} leads to {real} through a symbolic link, outside the "
            f"project ({project_dir})",
            hint="move or copy the application into the project",
        )
    if real.is_relative_to(build_dir):
        raise ConfigError(
            f"{where}: {text!r} is inside the build folder ({build_dir}), which "
            "containerize empties and rewrites",
            hint="name the folder that holds the application's code, or move build-dir",
        )
    return posix


def _app(values: _Values, app_root: Path) -> AppSpec:
    text, where = values.raw("app")
    if text is None:
        raise ConfigError(
            "tool.containerize.app is missing",
            hint='name the WSGI application, for example app = "myproject.wsgi:application"',
        )
    text = values.string("app").strip()
    path, _, section = text.partition("#")
    # 'mysite.wsgi' is Django's module and 'app.wsgi' a script file: a file wins.
    if path.endswith(".ini") or (
        path.endswith(".wsgi")
        and ("/" in path or section or (app_root / path).is_file() or not _APP_RE.match(path))
    ):
        return _app_file(path, section, where)
    if section:
        raise ConfigError(f"{where}: '#' names an app in a Paste Deploy .ini file: {text!r}")
    match = _APP_RE.match(text)
    if match is None:
        raise ConfigError(
            f"{where}: {text!r} is not an application",
            hint=f"write {_BY_KEY['app'].expects}; e.g. 'hello:application' for a file "
            "hello.py that defines application, or 'flaskr:create_app()'",
        )
    module, name, call = match["module"], match["callable"] or "application", match["call"]
    if call is None:
        return AppSpec(kind="callable", module=module, callable=name)
    return AppSpec(kind="factory", module=module, callable=name, args=_factory_args(call, where))


def _factory_args(call: str, where: str) -> str:
    """The argument list of ``name(...)``, checked to hold literals only, as Gunicorn does."""
    try:
        tree = ast.parse(f"f{call}", mode="eval").body
    except SyntaxError:
        raise ConfigError(
            f"{where}: {call!r} is not a call", hint="write e.g. 'create_app()'"
        ) from None
    if not isinstance(tree, ast.Call) or not isinstance(tree.func, ast.Name):
        raise ConfigError(f"{where}: {call!r} is not a call", hint="write e.g. 'create_app()'")
    for node in (*tree.args, *(kw.value for kw in tree.keywords)):
        try:
            ast.literal_eval(node)
        except ValueError:
            raise ConfigError(
                f"{where}: factory argument {ast.unparse(node)!r} is not a literal",
                hint="pass strings, numbers, True/False/None, lists, tuples or dicts of them",
            ) from None
    if any(kw.arg is None for kw in tree.keywords) or any(
        isinstance(arg, ast.Starred) for arg in tree.args
    ):
        raise ConfigError(f"{where}: {call!r}: '*' and '**' arguments are not supported")
    return ", ".join(
        [ast.unparse(arg) for arg in tree.args]
        + [f"{kw.arg}={ast.unparse(kw.value)}" for kw in tree.keywords]
    )


def _app_file(path: str, section: str, where: str) -> AppSpec:
    posix = PurePosixPath(path)
    if (
        posix.is_absolute()
        or not posix.parts
        or any(part in ("", ".", "..") for part in posix.parts)
        or "\\" in path
    ):
        raise ConfigError(
            f"{where}: {path!r} is not a file inside the project",
            hint="name it relative to the app folder (tool.containerize.app-directory, "
            "by default pyproject.toml's), e.g. 'deploy/app.wsgi'",
        )
    if path.endswith(".wsgi"):
        if section:
            raise ConfigError(f"{where}: '#{section}' applies to Paste Deploy .ini files only")
        return AppSpec(kind="script", path=posix.as_posix(), callable="application")
    if section and not re.fullmatch(r"[A-Za-z0-9_.-]+", section):
        raise ConfigError(f"{where}: {section!r} is not a Paste Deploy app name")
    return AppSpec(kind="paste", path=posix.as_posix(), section=section or "main")


def _allowed_hosts(values: _Values) -> tuple[str, ...]:
    hosts, where = values.strings("allowed-hosts"), values.where("allowed-hosts")
    if not hosts:
        raise ConfigError(
            f"{where} is empty: every request would get 400",
            hint="list the host names the app serves, or ['*'] for any",
        )
    for i, host in enumerate(hosts):
        if host != "*" and not _HOST_RE.fullmatch(host):
            raise ConfigError(
                f"{where}[{i}]: {host!r} is not a host name",
                hint="write 'example.com', '.example.com' (and subdomains) or '*'; no port",
            )
    return tuple(host.lower() for host in hosts)


def _image(values: _Values, *, default: str) -> str:
    image = values.optional_string("image") or default
    return str(reference.parse_repository(image, where=values.where("image")))


def _platforms(values: _Values) -> tuple[Platform, ...]:
    return parse_platforms(values.strings("platforms"), where=values.where("platforms"))


def _servers(values: _Values) -> tuple[str, ...]:
    names, where = values.strings("servers"), values.where("servers")
    if not names:
        raise ConfigError(f"{where} is empty", hint=f"choose from {', '.join(servers.names())}")
    for i, name in enumerate(names):
        servers.get(name, where=f"{where}[{i}]")
        if name in names[:i]:
            raise ConfigError(f"{where}[{i}]: {name!r} is already listed", hint="list it once")
    return names


def _lock(values: _Values, project_dir: Path) -> Path | None:
    text = values.optional_string("lock")
    if not text:
        return None
    lock = project_dir / text
    if not lock.is_file():
        raise ConfigError(
            f"{values.where('lock')}: {lock} does not exist",
            hint="name the lock file relative to pyproject.toml, or remove the key to find it",
        )
    return lock


def _build_dir(values: _Values, project_dir: Path) -> Path:
    """The build folder: never the project itself nor a folder that contains it."""
    path = (project_dir / values.string("build-dir")).resolve()
    if path == project_dir or path in project_dir.parents:
        what = "the project folder" if path == project_dir else "a folder that holds the project"
        raise ConfigError(
            f"{values.where('build-dir')}: {path} is {what}; containerize replaces what is in "
            "its build folder",
            hint="use a folder of its own, such as the default '.containerize'",
        )
    return path


def _healthcheck_path(values: _Values) -> str:
    path = values.string("healthcheck-path")
    if not path.startswith("/"):
        raise ConfigError(
            f"{values.where('healthcheck-path')} must start with '/': {path!r}",
            hint='for example healthcheck-path = "/health"',
        )
    return path


_STATIC_KEYS = ("url", "dir", "command")


def _static(values: _Values) -> StaticFiles | None:
    value, where = values.raw("static")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected {_BY_KEY['static'].expects}, got {value!r}")
    for key in value:
        if key not in _STATIC_KEYS:
            raise ConfigError(
                f"{where}: unknown key {key!r}", hint=f"valid keys: {', '.join(_STATIC_KEYS)}"
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


_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}


def _test(values: _Values, *, healthcheck_path: str) -> TestSettings:
    table, where = values.raw("test")
    if not isinstance(table, dict):
        raise ConfigError(
            f"{where}: expected a table, got {table!r}",
            hint='write [tool.containerize.test] with keys such as size-budget = "150 MiB"',
        )
    for key in table:
        if key not in _TEST_KEYS:
            close = difflib.get_close_matches(key, _TEST_KEYS, n=1)
            raise ConfigError(
                f"{where}: unknown key {key!r}",
                hint=f"did you mean {close[0]!r}?"
                if close
                else f"valid keys: {', '.join(_TEST_KEYS)}",
            )
    probes = tuple(
        _probe(item, f"{where}.probes[{i}]")
        for i, item in enumerate(_list(table.get("probes", []), f"{where}.probes", "tables"))
    ) or (Probe(path=healthcheck_path),)
    burst = table.get("burst", {})
    if not isinstance(burst, dict) or set(burst) - {"requests", "concurrency"}:
        raise ConfigError(
            f"{where}.burst: expected a table with 'requests' and 'concurrency', got {burst!r}",
            hint="for example burst = { requests = 200, concurrency = 8 }",
        )
    slow_path = table.get("slow-path")
    if slow_path is not None:
        slow_path = _url_path(slow_path, f"{where}.slow-path")
    tmpfs = _list(table.get("tmpfs", [CONTAINER_TMP]), f"{where}.tmpfs", "strings")
    for i, folder in enumerate(tmpfs):
        if not isinstance(folder, str) or not re.fullmatch(
            r"(/[A-Za-z0-9._-]+)+(:[a-z0-9=,]+)?", folder
        ):
            raise ConfigError(
                f"{where}.tmpfs[{i}]: {folder!r} is not an absolute folder path (with "
                "optional mount options)",
                hint='for example tmpfs = ["/tmp", "/home/app:size=16m"], as docker run '
                "--tmpfs takes them",
            )
    tests = _list(table.get("pytest", []), f"{where}.pytest", "strings")
    for i, path in enumerate(tests):
        if not isinstance(path, str) or not path.strip() or not path.isprintable():
            raise ConfigError(
                f"{where}.pytest[{i}]: {path!r} is not a path",
                hint='name test files or folders of the project, e.g. pytest = ["tests/container"]',
            )
    read_only = table.get("read-only", False)
    if not isinstance(read_only, bool):
        raise ConfigError(f"{where}.read-only: expected true or false, got {read_only!r}")
    return TestSettings(
        probes=probes,
        ready_timeout=_bounded(table.get("ready-timeout", 60), f"{where}.ready-timeout", 1, 3600),
        slow_path=slow_path,
        size_budget=_size(table["size-budget"], f"{where}.size-budget")
        if "size-budget" in table
        else None,
        burst_requests=_bounded(burst.get("requests", 100), f"{where}.burst.requests", 1, 10000),
        burst_concurrency=_bounded(
            burst.get("concurrency", 8), f"{where}.burst.concurrency", 1, 64
        ),
        read_only=read_only,
        tmpfs=tuple(tmpfs),
        pytest=tuple(tests),
    )


def _probe(item: object, where: str) -> Probe:
    if not isinstance(item, dict):
        raise ConfigError(
            f"{where}: expected a table, got {item!r}",
            hint='for example { path = "/", status = 200, contains = "Welcome" }',
        )
    for key in item:
        if key not in _PROBE_KEYS:
            raise ConfigError(
                f"{where}: unknown key {key!r}", hint=f"valid keys: {', '.join(_PROBE_KEYS)}"
            )
    if "path" not in item:
        raise ConfigError(f"{where}: no 'path'", hint='add path = "/" (a URL path)')
    host = item.get("host", "localhost")
    if not isinstance(host, str) or not _HOST_RE.fullmatch(host.rsplit(":", 1)[0]):
        raise ConfigError(f"{where}.host: {host!r} is not a host name", hint="e.g. 'example.com'")
    contains = item.get("contains")
    if contains is not None and (not isinstance(contains, str) or not contains):
        raise ConfigError(f"{where}.contains: expected some text, got {contains!r}")
    headers = item.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k.isprintable() and v.isprintable()
        for k, v in headers.items()
    ):
        raise ConfigError(
            f"{where}.headers: expected a table of header name to text, got {headers!r}",
            hint='for example headers = { "Content-Type" = "text/html" }',
        )
    return Probe(
        path=_url_path(item["path"], f"{where}.path"),
        host=host,
        status=_bounded(item.get("status", 200), f"{where}.status", 100, 599),
        contains=contains,
        headers=tuple(sorted(headers.items())),
    )


def _list(value: object, where: str, of: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list of {of}, got {value!r}")
    return value


def _url_path(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.startswith("/") or not value.isprintable():
        raise ConfigError(
            f"{where}: {value!r} is not a URL path", hint="write a path starting with '/'"
        )
    if any(c.isspace() for c in value):
        raise ConfigError(f"{where}: {value!r} holds a space", hint="percent-encode it as %20")
    return value


def _bounded(value: object, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{where}: expected a whole number from {low} to {high}, got {value!r}")
    return value


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


def _python_version(values: _Values) -> tuple[int, int]:
    text = values.string("python-version")
    match = re.fullmatch(r"3\.(\d{1,2})", text)
    if match is None:
        raise ConfigError(
            f"{values.where('python-version')}: {text!r} is not '3.X'", hint="e.g. '3.12'"
        )
    return (3, int(match[1]))


def _libc(values: _Values) -> tuple[Literal["glibc", "musl"], tuple[int, int]]:
    text = values.string("libc")
    match = re.fullmatch(r"(glibc|musl)-(\d{1,3})\.(\d{1,3})", text)
    if match is None:
        raise ConfigError(
            f"{values.where('libc')}: {text!r} is not a C library version",
            hint="write 'glibc-2.36' (Debian 12) or 'musl-1.2' (Alpine)",
        )
    name: Literal["glibc", "musl"] = "glibc" if match[1] == "glibc" else "musl"
    return (name, (int(match[2]), int(match[3])))


def _tag_templates(values: _Values) -> tuple[tuple[str, tuple[str, ...]], ...]:
    where = values.where("tag-templates")
    table = values.table("tag-templates")
    templates: dict[str, tuple[str, ...]] = {}
    for name, value in table.items():
        servers.get(name, where=f"{where}.{name}")
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise ConfigError(
                f"{where}.{name}: expected a list of tag templates, got {value!r}",
                hint=f"write {name} = ['{{version}}-{{server}}', '{{server}}']",
            )
        templates[name] = tuple(items)
    tags.check_templates(templates, where=where)
    return tuple(sorted(templates.items()))


def _env(values: _Values) -> tuple[tuple[str, str], ...]:
    where = values.where("env")
    env = []
    for key, value in sorted(values.table("env").items()):
        if not _ENV_NAME_RE.match(key):
            raise ConfigError(
                f"{where}: {key!r} is not an environment variable name",
                hint="use letters, digits and '_', not starting with a digit",
            )
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ConfigError(f"{where}.{key} must be a string or number, not {value!r}")
        if not str(value).isprintable():
            raise ConfigError(
                f"{where}.{key}: {str(value)!r} holds a newline or another control character",
                hint="environment values in an image are one line each",
            )
        env.append((str(key), str(value)))
    return tuple(env)
