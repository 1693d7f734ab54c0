"""Read ``pdm.lock`` (``lock_version`` 4.x) and compute PDM's content hash.

Each ``[[package]]`` pins one version with its ``files`` (a name, or a URL with
``static_urls``, and a ``sha256:`` hash each), the ``groups`` that need it, an
optional ``marker`` (strategy ``inherit_metadata``) and its ``dependencies`` as PEP
508 strings: the lock has a graph, walked from the project's roots in the groups
``[tool.containerize] groups`` chooses, as for Poetry and uv. A dependency that asks
for extras is locked twice: the package itself, and an entry with ``extras`` whose
dependencies are what those extras add (plus the package itself); the second
becomes the first's :attr:`~LockedPackage.optional_dependencies`.

``requires-python`` comes from ``[[metadata.targets]]`` (lock_version 4.5) or
``metadata.requires_python`` (older). ``metadata.content_hash`` is PDM's hash of the
parts of ``pyproject.toml`` that matter (:func:`pdm_content_hash`): a lock whose hash
is not the project's is out of date.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from containerize.resolve.lock.model import (
    Dependency,
    Lock,
    LockedFile,
    LockedPackage,
    make_file,
    sort_packages,
)
from containerize.tables import Table, load_toml

_HINT = "the lock file is damaged or was edited by hand; regenerate it with 'pdm lock'"
#: Keys of a package PDM uses for what does not come from an index.
_LOCAL_KEYS = ("path", "url", "git", "hg", "svn", "bzr")


def read_pdm_lock(path: Path) -> Lock:
    """Read a ``pdm.lock`` into a :class:`Lock`."""
    top = load_toml(path, hint=_HINT)
    metadata = top.table("metadata")
    lock_version = metadata.string("lock_version")
    if lock_version.split(".", 1)[0] != "4":
        metadata.fail(
            "lock_version", f"lock_version {lock_version} is not supported (containerize reads 4.x)"
        )
    base: dict[tuple[NormalizedName, Version], LockedPackage] = {}
    extras: list[tuple[Table, NormalizedName, Version, frozenset[NormalizedName]]] = []
    for table in top.tables("package"):
        name, version = table.name(), table.version()
        wanted = frozenset(canonicalize_name(e) for e in table.string_array("extras"))
        if wanted:
            extras.append((table, name, version, wanted))
        elif (name, version) in base:
            table.fail(None, f"{name} {version} is locked twice")
        else:
            base[name, version] = _read_package(table, name, version)
    for table, name, version, wanted in extras:
        package = base.get((name, version))
        if package is None:
            table.fail("extras", f"{name}[{','.join(sorted(wanted))}] {version} is locked "
                       f"without {name} {version} itself")  # fmt: skip
        own = tuple(d for d in _dependencies(table) if d.name != name)
        added = dict(package.optional_dependencies)
        for extra in wanted:
            known = added.get(extra, ())
            added[extra] = (*known, *(d for d in own if d not in known))
        base[name, version] = replace(package, optional_dependencies=tuple(sorted(added.items())))
    hash_text = metadata.opt_string("content_hash")
    itself = _project_itself(path.parent / "pyproject.toml")
    if itself is not None:
        base[itself.name, itself.version] = itself
    return Lock(
        path=path,
        format="pdm",
        project_package=None if itself is None else itself.name,
        packages=sort_packages(list(base.values())),
        requires_python=_requires_python(metadata),
        content_hash=None if hash_text is None else hash_text.partition(":")[2],
        has_graph=True,
        generator="pdm",
    )


def _read_package(table: Table, name: NormalizedName, version: Version) -> LockedPackage:
    if "path" in table and not table.opt_bool("editable"):
        # A path dependency (``name @ file:///${PROJECT_ROOT}/../lib``): built from its
        # folder, relative to the lock's, into a wheel like any local package.
        return LockedPackage(
            name=name,
            version=version,
            files=(),
            dependencies=_dependencies(table),
            marker=table.marker("marker"),
            groups=frozenset(table.string_array("groups")),
            requires_python=table.specifier("requires_python"),
            local=PurePosixPath(table.string("path")).as_posix(),
        )
    local = next((key for key in _LOCAL_KEYS if key in table), None)
    if local is not None:
        table.fail(
            local,
            f"{name} comes from {local} {table.raw(local)!r}: an image installs only files "
            "pinned by name, version and hash from an index",
        )
    if table.opt_bool("editable"):
        table.fail("editable", f"{name} is editable: an image installs only pinned files")
    files = [_file(entry) for entry in table.tables("files")]
    if not files:
        table.fail("files", f"{name} {version} has no files: re-lock with 'pdm lock'")
    return LockedPackage(
        name=name,
        version=version,
        files=tuple(sorted(files, key=lambda f: f.filename)),
        dependencies=_dependencies(table),
        marker=table.marker("marker"),
        groups=frozenset(table.string_array("groups")),
        requires_python=table.specifier("requires_python"),
    )


def _project_itself(pyproject: Path) -> LockedPackage | None:
    """The project as a local package when ``pdm install`` installs it: a library
    (``[tool.pdm] distribution = true``, or unset with a ``[build-system]``) with a
    name and a static version. ``pdm.lock`` does not list it; its dependencies are the
    project's roots."""
    if not pyproject.is_file():
        return None
    document = load_toml(pyproject, hint="fix pyproject.toml").data
    tool = document.get("tool", {})
    pdm = tool.get("pdm", {}) if isinstance(tool, dict) else {}
    distribution = pdm.get("distribution") if isinstance(pdm, dict) else None
    if distribution is None:
        distribution = "build-system" in document
    project = document.get("project", {})
    if distribution is not True or not isinstance(project, dict):
        return None
    name, version = project.get("name"), project.get("version")
    if not isinstance(name, str) or not isinstance(version, str):
        return None
    try:
        parsed = Version(version)
    except ValueError:
        return None
    return LockedPackage(
        name=canonicalize_name(name), version=parsed, files=(), groups=frozenset({"default"}),
        local=".",
    )  # fmt: skip


def _file(entry: Table) -> LockedFile:
    url = entry.opt_string("url")
    filename = entry.opt_string("file")
    if filename is None:
        if url is None:
            entry.fail(None, "missing 'file' (or 'url')")
        filename = unquote(PurePosixPath(urlsplit(url).path).name)
    digest = entry.string("hash")
    algorithm, _, value = digest.partition(":")
    if algorithm != "sha256":
        entry.fail("hash", f"{digest!r} is not a sha256 hash")
    return make_file(
        filename=filename,
        url=url,
        sha256=value,
        size=None,
        where=entry.path("hash"),
        lock_path=entry.file,
    )


def _dependencies(table: Table) -> tuple[Dependency, ...]:
    found = []
    for i, text in enumerate(table.string_array("dependencies")):
        try:
            requirement = Requirement(text)
        except InvalidRequirement as exc:
            table.child("dependencies").fail(i, f"invalid requirement {text!r}: {exc}")
        found.append(
            Dependency(
                name=canonicalize_name(requirement.name),
                marker=requirement.marker,
                extras=frozenset(canonicalize_name(e) for e in requirement.extras),
                specifier=requirement.specifier or None,
            )
        )
    return tuple(found)


def _requires_python(metadata: Table) -> SpecifierSet | None:
    targets = metadata.tables("targets")
    if not targets:
        return metadata.specifier("requires_python")
    found = {str(t.specifier("requires_python") or "") for t in targets}
    if len(found) != 1 or "" in found:
        # Several targets for different Pythons: each package's own requires_python
        # and markers tell them apart.
        return None
    return targets[0].specifier("requires_python")


_GROUP_NAME = re.compile(r"[^A-Za-z0-9]+")


def pdm_content_hash(pyproject: Mapping[str, Any]) -> str:
    """The ``content_hash`` (without ``sha256:``) PDM writes for this pyproject document.

    Reproduces PDM's ``PyProject.content_hash`` for a project that is not a workspace:
    key-sorted JSON of ``[tool.pdm.source]``, ``[project]``'s ``dependencies``,
    ``optional-dependencies`` and ``requires-python``, the dependency groups
    (``[dependency-groups]`` then ``[tool.pdm.dev-dependencies]``, names normalized)
    and ``[tool.pdm.resolution]``.
    """
    project = pyproject.get("project")
    project = project if isinstance(project, dict) else {}
    tool = pyproject.get("tool")
    settings = tool.get("pdm", {}) if isinstance(tool, dict) else {}
    settings = settings if isinstance(settings, dict) else {}
    groups: dict[str, list[Any]] = {}
    for source in (pyproject.get("dependency-groups", {}), settings.get("dev-dependencies", {})):
        for group, deps in (source if isinstance(source, dict) else {}).items():
            groups.setdefault(_GROUP_NAME.sub("-", group).lower(), []).extend(deps)
    content = {
        "sources": settings.get("source", []),
        "dependencies": project.get("dependencies", []),
        "dev-dependencies": groups,
        "optional-dependencies": project.get("optional-dependencies", {}),
        "requires-python": project.get("requires-python", ""),
        "resolution": settings.get("resolution", {}),
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode("utf-8")).hexdigest()
