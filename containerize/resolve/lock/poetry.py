"""Read ``poetry.lock`` (lock-version 1.x and 2.x) and compute Poetry's content hash.

The formats differ over time:

* lock-version 1.1 (Poetry 1.1): ``category`` per package and the file hashes in one
  ``[metadata.files]`` table keyed by package name;
* lock-version 2.0 (Poetry 1.2 to 1.8): ``files`` per package;
* lock-version 2.1 (Poetry 2): ``groups`` per package, and ``markers`` that may be a
  table with one marker per group.

Poetry records no file URLs: files are fetched from the project's index by name.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from containerize.errors import ConfigError, LockError
from containerize.project import poetry_specifier, python_marker
from containerize.resolve.lock.model import (
    Dependency,
    Lock,
    LockedFile,
    LockedPackage,
    make_file,
    sort_packages,
)
from containerize.tables import Table, load_toml

_HINT = "the lock file is damaged or was edited by hand; regenerate it with 'poetry lock'"

# "name[extra1,extra2] (>=1.0) ; marker", as Poetry writes [package.extras] entries.
_EXTRA_ENTRY_RE = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*"
    r"(?:\[(?P<extras>[^\]]*)\])?\s*(?:\((?P<constraint>[^)]*)\))?\s*(?:;\s*(?P<marker>.+))?$"
)

# pyproject keys Poetry hashes into ``content-hash`` (see Locker._get_content_hash).
_LEGACY_KEYS = ("dependencies", "source", "extras", "dev-dependencies")
_RELEVANT_KEYS = (*_LEGACY_KEYS, "group")
_RELEVANT_PROJECT_KEYS = ("requires-python", "dependencies", "optional-dependencies")


def read_poetry_lock(path: Path) -> Lock:
    """Read a ``poetry.lock`` into a :class:`Lock`."""
    text = _read_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LockError(f"{path.name}: not valid TOML: {exc}", hint=_HINT) from exc
    top = Table(data=data, where="", file=path, hint=_HINT)
    metadata = top.table("metadata")
    lock_version = metadata.string("lock-version")
    major = lock_version.split(".", 1)[0]
    if major not in ("1", "2"):
        metadata.fail(
            "lock-version",
            f"lock-version {lock_version} is not supported (containerize reads 1.x and 2.x)",
        )
    legacy_files = metadata.opt_table("files")
    packages = [_read_package(table, legacy_files) for table in top.tables("package")]
    python = metadata.opt_string("python-versions")
    first_line = text.split("\n", 1)[0]
    itself = _project_itself(path.parent / "pyproject.toml")
    if itself is not None:
        packages.append(itself)
    return Lock(
        path=path,
        format="poetry",
        project_package=None if itself is None else itself.name,
        packages=sort_packages(packages),
        requires_python=_specifier(metadata, "python-versions", python),
        content_hash=metadata.opt_string("content-hash"),
        has_graph=True,
        generator=first_line.lstrip("# ").strip() if first_line.startswith("#") else None,
    )


def _project_itself(pyproject: Path) -> LockedPackage | None:
    """The project as a local package when ``poetry install`` installs it: package
    mode (the default; ``package-mode = false`` turns it off) with a build system to
    build it, a name and a static version (``[project]``'s, else ``[tool.poetry]``'s).
    ``poetry.lock`` does not list it; its dependencies are the project's roots."""
    if not pyproject.is_file():
        return None
    document = load_toml(pyproject, hint="fix pyproject.toml").data
    tool = document.get("tool", {})
    poetry = tool.get("poetry", {}) if isinstance(tool, dict) else {}
    poetry = poetry if isinstance(poetry, dict) else {}
    if poetry.get("package-mode", True) is not True or "build-system" not in document:
        return None
    project = document.get("project", {})
    project = project if isinstance(project, dict) else {}
    name = project.get("name", poetry.get("name"))
    version = project.get("version", poetry.get("version"))
    if not isinstance(name, str) or not isinstance(version, str):
        return None
    try:
        parsed = Version(version)
    except InvalidVersion:
        return None
    return LockedPackage(
        name=canonicalize_name(name), version=parsed, files=(), groups=frozenset({"main"}),
        local=".",
    )  # fmt: skip


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LockError(
            f"{path}: not UTF-8 text (byte {exc.start})",
            hint=f"TOML files are UTF-8; {_HINT}",
        ) from None
    except OSError as exc:
        raise LockError(f"{path}: cannot read: {exc.strerror}", hint=_HINT) from None


def _specifier(table: Table, key: str, text: str | None) -> SpecifierSet | None:
    if text is None:
        return None
    try:
        return poetry_specifier(text, where=table.path(key), file=table.file)
    except ConfigError as exc:
        raise LockError(exc.message, hint=_HINT) from exc


def _read_package(table: Table, legacy_files: Table | None) -> LockedPackage:
    name = table.name()
    version = table.version()
    files = _files(table, "files")
    if "files" not in table and legacy_files is not None:
        # lock-version 1.1 keeps hashes in [metadata.files], keyed by the name as
        # written in pyproject, which need not be normalized.
        for key, _ in legacy_files.items():
            if canonicalize_name(key) == name:
                files = _files(legacy_files, key)
    dependencies, optional = _dependencies(table)
    extras = _extras(table, optional)
    source = table.opt_table("source")
    # A path dependency (``{ path = "../lib" }``): built from its folder, relative to
    # the lock's, into a wheel like any local package.
    local = None
    if source is not None and source.opt_string("type") == "directory":
        local = source.string("url")
    groups = set(table.string_array("groups"))
    category = table.opt_string("category")
    if category is not None:
        groups.add("main" if category == "main" else "dev")
    return LockedPackage(
        name=name,
        version=version,
        files=files,
        dependencies=dependencies,
        optional_dependencies=extras,
        marker=_package_marker(table),
        groups=frozenset(groups),
        requires_python=_specifier(table, "python-versions", table.opt_string("python-versions")),
        source_url=None if source is None or local else source.opt_string("url"),
        source_name=None if source is None else source.opt_string("reference"),
        local=local,
    )


def _files(table: Table, key: str) -> tuple[LockedFile, ...]:
    found = []
    for entry in table.tables(key):
        digest = entry.string("hash")
        algorithm, _, value = digest.partition(":")
        if algorithm != "sha256":
            entry.fail("hash", f"{digest!r} is not a sha256 hash")
        found.append(
            make_file(
                filename=entry.string("file"),
                url=None,
                sha256=value,
                size=None,
                where=entry.path("hash"),
                lock_path=table.file,
            )
        )
    return tuple(sorted(found, key=lambda f: f.filename))


def _package_marker(table: Table) -> Marker | None:
    raw = table.raw("markers")
    if isinstance(raw, dict):
        # Poetry 2.1 writes one marker per group; the package is needed where any is.
        group_markers = table.table("markers")
        texts = sorted({group_markers.string(group) for group, _ in group_markers.items()})
        if len(texts) == 1:
            return table.parse_marker("markers", texts[0])
        return table.parse_marker("markers", " or ".join(f"({t})" for t in texts))
    return table.marker("markers")


def _dependencies(
    table: Table,
) -> tuple[tuple[Dependency, ...], dict[NormalizedName, list[Dependency]]]:
    """Required dependencies, and the optional ones (reached only through extras)."""
    deps = table.opt_table("dependencies")
    required: list[Dependency] = []
    optional: dict[NormalizedName, list[Dependency]] = {}
    if deps is None:
        return (), optional
    for key, value in deps.items():
        name = canonicalize_name(key)
        specs = value if isinstance(value, list) else [value]
        for i, spec in enumerate(specs):
            where = key if len(specs) == 1 else f"{key}[{i}]"
            dependency, is_optional = _dependency(deps, name, where, spec)
            if is_optional:
                optional.setdefault(name, []).append(dependency)
            else:
                required.append(dependency)
    return tuple(required), optional


def _dependency(
    deps: Table, name: NormalizedName, key: str, spec: object
) -> tuple[Dependency, bool]:
    if isinstance(spec, str):
        spec = {"version": spec}
    if not isinstance(spec, dict):
        deps.fail(key, "expected a version constraint or a table")
    entry = Table(data=spec, where=deps.path(key), file=deps.file, hint=_HINT)
    markers = []
    python = entry.opt_string("python")
    if python is not None:
        specifier = _specifier(entry, "python", python)
        if specifier:
            markers.append(python_marker(specifier))
    platform = entry.opt_string("platform")
    if platform is not None:
        markers.append(f'sys_platform == "{platform}"')
    text = entry.opt_string("markers")
    if text:
        markers.append(f"({text})" if markers else text)
    version = entry.opt_string("version")
    dependency = Dependency(
        name=name,
        marker=entry.parse_marker("markers", " and ".join(markers) if markers else None),
        extras=frozenset(canonicalize_name(e) for e in entry.string_array("extras")),
        specifier=_specifier(entry, "version", version),
    )
    return dependency, bool(entry.opt_bool("optional"))


def _extras(
    table: Table, optional: dict[NormalizedName, list[Dependency]]
) -> tuple[tuple[NormalizedName, tuple[Dependency, ...]], ...]:
    extras_table = table.opt_table("extras")
    if extras_table is None:
        return ()
    result = []
    for extra, _ in extras_table.items():
        found: list[Dependency] = []
        for i, entry in enumerate(extras_table.string_array(extra)):
            match = _EXTRA_ENTRY_RE.match(entry)
            if match is None:
                extras_table.child(extra).fail(i, f"cannot read {entry!r}")
            name = canonicalize_name(match["name"])
            marker = extras_table.child(extra).parse_marker(i, match["marker"])
            requested = frozenset(
                canonicalize_name(e.strip())
                for e in (match["extras"] or "").split(",")
                if e.strip()
            )
            # The optional dependency's own entry carries its markers and extras.
            for base in optional.get(name, []) or [Dependency(name=name)]:
                found.append(
                    Dependency(
                        name=name,
                        marker=_and(base.marker, marker),
                        extras=base.extras | requested,
                        specifier=base.specifier,
                    )
                )
        result.append((canonicalize_name(extra), tuple(found)))
    return tuple(sorted(result, key=lambda pair: pair[0]))


def _and(left: Marker | None, right: Marker | None) -> Marker | None:
    if left is None or right is None:
        return left or right
    return Marker(f"({left}) and ({right})")


def poetry_content_hashes(pyproject: Mapping[str, Any]) -> frozenset[str]:
    """The ``content-hash`` values Poetry would write for this pyproject document.

    Reproduces ``Locker._get_content_hash``: Poetry 1.x hashes the keys
    ``dependencies``, ``source``, ``extras``, ``dev-dependencies`` (as null when
    absent) and ``group`` of ``[tool.poetry]``. Poetry 2 also hashes
    ``[project]``'s ``requires-python``, ``dependencies`` and
    ``optional-dependencies``; since Poetry 2.3 also ``[dependency-groups]``. Every
    variant is returned, since a lock written by any of these versions is fresh.
    """
    tool = pyproject.get("tool")
    poetry = tool.get("poetry", {}) if isinstance(tool, dict) else {}
    poetry = poetry if isinstance(poetry, dict) else {}
    legacy = {key: poetry.get(key) for key in _LEGACY_KEYS}
    if "group" in poetry:
        legacy["group"] = poetry["group"]
    hashes = {_hash(legacy)}
    project = pyproject.get("project")
    project = project if isinstance(project, dict) else {}
    relevant_project = {
        key: project[key] for key in _RELEVANT_PROJECT_KEYS if project.get(key) is not None
    }
    groups = pyproject.get("dependency-groups") or {}
    for group_content in ({}, groups):
        hashes.add(_hash(_poetry2_content(poetry, relevant_project, group_content)))
    return frozenset(hashes)


def _poetry2_content(
    poetry: Mapping[str, Any], project: Mapping[str, Any], groups: Mapping[str, Any]
) -> dict[str, Any]:
    relevant_poetry = {}
    for key in _RELEVANT_KEYS:
        data = poetry.get(key)
        # Legacy keys are hashed as null when absent, but only for projects that
        # declare nothing in [project] or [dependency-groups].
        if data is None and (key not in _LEGACY_KEYS or project or groups):
            continue
        relevant_poetry[key] = data
    content: dict[str, Any] = {}
    if project:
        content["project"] = dict(project)
    if groups:
        content["dependency-groups"] = dict(groups)
    if content:
        content["tool"] = {"poetry": relevant_poetry}
        return content
    return relevant_poetry


def _hash(content: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
