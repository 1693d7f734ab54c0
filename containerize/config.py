"""``[tool.containerize]``: what to build, read once into a frozen :class:`Config`.

Every key is declared once, in :data:`containerize.options.OPTIONS`. Sources are
layered in a fixed order, first wins: the command line, then the environment, then
``pyproject.toml``, then the declared defaults. Every source goes through the same
validation: the key's kind (with its bounds), then its own check; an error names
where the bad value came from: the flag, the variable, or the file and key. Unknown
keys are rejected with the nearest valid key suggested.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from containerize import project as project_mod
from containerize import syspackages, valuechecks
from containerize.appspec import AppSpec
from containerize.declare import Kind, Option, check_keys
from containerize.errors import ConfigError
from containerize.options import BY_KEY, OPTIONS, OTHER_VARIABLES
from containerize.platforms import Platform
from containerize.project import ProjectMetadata
from containerize.staticfiles import StaticFiles
from containerize.testsettings import CONTAINER_TMP, Probe, TestSettings
from containerize.writablepaths import WritablePath

__all__ = [
    "CONTAINER_TMP",
    "DEFAULT_EXCLUDES",
    "OPTIONS",
    "AppSpec",
    "Config",
    "Option",
    "Probe",
    "StaticFiles",
    "TestSettings",
    "load",
]

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
    worker_memory: int | None  # MiB; None: the server's own measured figure
    threads: int | None  # None: the server's default
    timeout: int
    keep_alive: int
    grace_period: int
    max_requests: int  # 0: workers are never recycled
    max_requests_jitter: int | None  # None: a tenth of max_requests, at start
    allowed_hosts: tuple[str, ...]
    trusted_proxies: tuple[str, ...]  # networks, '192.0.2.7/32'
    access_log: str  # 'common', 'json' or 'off'
    preload: str  # 'auto', 'on' or 'off'
    import_check: bool
    layer_budget: int  # at most this many dependency layers
    locks: tuple[Path, ...]  # several requirements files are read as one lock
    groups: tuple[str, ...]
    extras: tuple[str, ...]
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    # Paths of the app folder the app's user owns in the image (containerize.writablepaths).
    writable: tuple[WritablePath, ...]
    build_dir: Path
    uid: int
    gid: int
    healthcheck_path: str
    static: StaticFiles | None
    test: TestSettings
    env: tuple[tuple[str, str], ...]
    # The names of [tool.containerize.targets] (containerize.workspace builds them).
    targets: tuple[str, ...]
    builder: str | None
    cache: valuechecks.CacheMode
    share: valuechecks.CacheMode
    cache_from: tuple[str, ...]
    cache_to: tuple[str, ...]
    source: str | None
    # What the base image is assumed to hold when it cannot be probed (a dry run
    # without an engine); a probe of the real image always wins.
    python_version: tuple[int, int]
    libc: tuple[Literal["glibc", "musl"], tuple[int, int]]
    # A server's own release tags, in place of the default scheme (release/tags.py).
    tag_templates: tuple[tuple[str, tuple[str, ...]], ...]
    # Debian packages to compile sdists and to run them (containerize.syspackages).
    system_packages: syspackages.SystemPackages

    @property
    def lock(self) -> Path | None:
        """The lock file (the first of several); None to find it in the project."""
        return self.locks[0] if self.locks else None

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
    table = _table(project)
    name = project_mod.project_name(project, project_dir)
    values = _Values(
        table=table,
        file=project.path.name,
        overrides=overrides or {},
        environ=os.environ if environ is None else environ,
        project_dir=project_dir,
        name=name,
    )
    fields = {option.attribute: values.get(option.key) for option in OPTIONS}
    return Config(
        project_dir=project_dir,
        project=project,
        name=name,
        version=project_mod.project_version(project, project_dir),
        **fields,
    )


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
    check_keys(table, BY_KEY, f"{project.path.name}: tool.containerize")
    return table


_BOOLEAN_WORDS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


class _Values:
    """Each key's value and where it came from, first source wins, checked once."""

    def __init__(
        self,
        *,
        table: Mapping[str, Any],
        file: str,
        overrides: Mapping[str, Any],
        environ: Mapping[str, str],
        project_dir: Path,
        name: str,
    ) -> None:
        self._table = table
        self._file = file
        self._overrides = overrides
        self._environ = environ
        self._checked: dict[str, Any] = {}
        self.project_dir = project_dir
        self.name = name
        for key in overrides:
            if key not in BY_KEY:
                raise ConfigError(f"unknown override {key!r}")
        known = [o.env_var for o in OPTIONS if o.env] + list(OTHER_VARIABLES)
        for variable in sorted(environ):
            if variable.startswith("CONTAINERIZE_") and variable not in known:
                close = difflib.get_close_matches(variable, known, n=1)
                raise ConfigError(
                    f"unknown variable {variable} in the environment",
                    hint=(f"did you mean {close[0]}? " if close else "")
                    + f"containerize reads {', '.join(sorted(known))}",
                )

    def get(self, key: str) -> Any:
        """The checked value of *key*: its kind's check, then its own."""
        if key not in self._checked:
            option = BY_KEY[key]
            value, where = self.raw(option)
            value = _KINDS[option.kind](option, value, where)
            if option.check is not None:
                value = option.check(value, where, self)
            if option.kind == "int" and value is not None:
                value = _bounds(option, value, where)
            self._checked[key] = value
        return self._checked[key]

    def raw(self, option: Option) -> tuple[Any, str]:
        """(value, where); where names the flag, variable, file key or default."""
        key = option.key
        if self._overrides.get(key) is not None:
            return self._overrides[key], option.flag.name if option.flag else f"--{key}"
        if option.env and self._environ.get(option.env_var):
            return _from_variable(option, self._environ[option.env_var]), option.env_var
        if key in self._table:
            return self._table[key], f"{self._file}: tool.containerize.{key}"
        return option.default, f"tool.containerize.{key} (default)"


def _from_variable(option: Option, text: str) -> Any:
    """A variable's text as the option's kind: a list split on commas and spaces, an int
    from digits, a bool from 1/0, true/false or yes/no; else the text, for the check."""
    word = text.strip().lower()
    if option.kind == "list":
        return [item for item in re.split(r"[,\s]+", text) if item]
    if option.kind == "int" and word.isdigit():
        return int(word)
    if option.kind == "bool" and word in _BOOLEAN_WORDS:
        return _BOOLEAN_WORDS[word]
    return text


def _string(option: Option, value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected {option.expects}, got {value!r}")
    if not value.strip():
        default = option.default
        hint = "remove it for the default" + (f" ({default})" if isinstance(default, str) else "")
        hint = option.hint or hint
        raise ConfigError(f"{where} is empty: expected {option.expects}", hint=hint)
    if not value.isprintable():
        raise ConfigError(
            f"{where}: {value!r} holds a newline or another control character",
            hint="write it on one line, without control characters",
        )
    return value


def _integer(option: Option, value: Any, where: str) -> int | None:
    if value is None and option.default is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}: expected {option.expects}, got {value!r}")
    return value


def _bounds(option: Option, value: int, where: str) -> int:
    assert option.low is not None
    assert option.high is not None
    if not option.low <= value <= option.high:
        raise ConfigError(f"{where}: {value} is {option.problem}", hint=f"use {option.expects}")
    return value


def _boolean(option: Option, value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(
            f"{where}: expected {option.expects}, got {value!r}",
            hint="in pyproject.toml write true or false, without quotes; in a variable, "
            "1/0, true/false or yes/no",
        )
    return value


def _strings(option: Option, value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected {option.expects}, got {value!r}")
    for i, item in enumerate(value):
        if not item.isprintable():
            raise ConfigError(
                f"{where}[{i}]: {item!r} holds a newline or another control character",
                hint="write it on one line, without control characters",
            )
        if not item.strip():
            raise ConfigError(
                f"{where}[{i}] is empty", hint=f"give {option.expects}, or leave it out"
            )
    return tuple(value)


def _paths(option: Option, value: Any, where: str) -> str | tuple[str, ...] | None:
    """One string, or a list of them (each checked as a string)."""
    if value is None or isinstance(value, str):
        return _string(option, value, where)
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{where}: expected {option.expects}, got {value!r}")
    for i, item in enumerate(value):
        _string(option, item, f"{where}[{i}]")
    return tuple(value)


def _table_value(option: Option, value: Any, where: str) -> dict[str, Any] | None:
    if value is None and option.default is None:
        return None
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected {option.expects}, got {value!r}", hint=option.hint)
    return value


def _tables(option: Option, value: Any, where: str) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"{where}: expected {option.expects}, got {value!r}", hint=option.hint)
    return tuple(value)


_KINDS: dict[Kind, Callable[[Option, Any, str], Any]] = {
    "str": _string,
    "int": _integer,
    "bool": _boolean,
    "list": _strings,
    "paths": _paths,
    "table": _table_value,
    "tables": _tables,
}
