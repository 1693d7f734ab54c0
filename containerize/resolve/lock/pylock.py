"""Read PEP 751 ``pylock.toml`` files (``lock-version = "1.0"``).

A pylock file decides installation per package: each ``[[packages]]`` entry has a
``marker`` evaluated in the target environment, with the ``extras`` and
``dependency_groups`` being installed as sets. ``dependencies`` (edges without
markers) are optional; a lock without them has no graph to walk.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from containerize.resolve.lock.localdir import local_package, read_static
from containerize.resolve.lock.model import (
    Dependency,
    InputKind,
    Lock,
    LockedFile,
    LockedPackage,
    LockInput,
    make_file,
    sort_packages,
)
from containerize.tables import Table, load_toml

_HINT = "the lock file is damaged or was edited by hand; regenerate it"
_INPUT_KINDS: dict[str, InputKind] = {
    "pipfile": "pipfile",
    "project": "project",
    "pyproject": "pyproject",
    "requirements": "requirements",
}
#: What re-makes a lock ``containerize lock`` wrote.
RELOCK_COMMAND = "containerize lock"


def read_pylock(path: Path) -> Lock:
    """Read a ``pylock.toml`` (or ``pylock.NAME.toml``) into a :class:`Lock`."""
    top = load_toml(path, hint=_HINT)
    lock_version = top.string("lock-version")
    if lock_version.split(".", 1)[0] != "1":
        top.fail("lock-version", f"lock-version {lock_version} is not supported (expected 1.x)")
    # The project itself, exported as a source tree (``directory = { path = "." }``),
    # is installed when it is a package; a folder that is none (a tool-only
    # pyproject.toml) is left to the build context, as before.
    tables = [
        t for t in top.tables("packages") if not (_is_project_root(t) and not _is_package(path))
    ]
    packages = [_read_package(table, path) for table in tables]
    has_graph = any("dependencies" in table for table in tables)
    project_package = next((p.name for p in packages if p.local == "."), None)
    roots: list[tuple[str, frozenset[NormalizedName]]] = [
        (f"extra:{canonicalize_name(extra)}", frozenset()) for extra in top.string_array("extras")
    ]
    roots.extend((group, frozenset()) for group in top.string_array("dependency-groups"))
    inputs = _inputs(top)
    return Lock(
        path=path,
        format="pylock",
        packages=sort_packages(packages),
        requires_python=top.specifier("requires-python"),
        content_hash=None,
        has_graph=has_graph,
        roots=tuple(sorted(roots)),
        generator=top.opt_string("created-by"),
        recorded_command=RELOCK_COMMAND if inputs else None,
        inputs=inputs,
        project_package=project_package,
    )


def _inputs(top: Table) -> tuple[LockInput, ...]:
    """What ``containerize lock`` recorded in ``[tool.containerize]``, if it wrote the file."""
    tool = top.opt_table("tool")
    own = None if tool is None else tool.opt_table("containerize")
    if own is None:
        return ()
    found = []
    for entry in own.tables("inputs"):
        kind = entry.string("kind")
        if kind not in _INPUT_KINDS:
            entry.fail("kind", f"unknown input kind {kind!r}")
        digest = entry.string("sha256")
        if len(digest) != 64 or digest.strip("0123456789abcdef"):
            entry.fail("sha256", f"{digest!r} is not a sha256 hex digest")
        found.append(
            LockInput(
                path=entry.string("path"),
                sha256=digest,
                kind=_INPUT_KINDS[kind],
                included=bool(entry.opt_bool("included")),
            )
        )
    if not found:
        own.fail("inputs", "names no input")
    return tuple(found)


def _is_project_root(table: Table) -> bool:
    directory = table.raw("directory")
    return isinstance(directory, dict) and directory.get("path") in (".", "./")


def _is_package(path: Path) -> bool:
    return read_static(path.parent).buildable


def _read_package(table: Table, path: Path) -> LockedPackage:
    name = table.name()
    version = table.opt_version("version")
    directory = table.opt_table("directory")
    if directory is not None:
        return _read_directory(table, directory, path, name, version)
    if version is None:
        # PEP 751 lets source trees omit the version; containerize installs only
        # pinned files, so an unversioned entry is a lock it cannot use.
        table.fail(None, "missing 'version'")
    files: list[LockedFile] = []
    sdist = table.opt_table("sdist")
    if sdist is not None:
        files.append(_file(sdist))
    files.extend(_file(wheel) for wheel in table.tables("wheels"))
    archive = table.opt_table("archive")
    if archive is not None:
        files.append(_file(archive))
    dependencies = tuple(
        Dependency(name=entry.name(), version=entry.opt_version("version"))
        for entry in table.tables("dependencies")
    )
    return LockedPackage(
        name=name,
        version=version,
        files=tuple(sorted(files, key=lambda f: f.filename)),
        dependencies=dependencies,
        marker=table.marker("marker"),
        requires_python=table.specifier("requires-python"),
        source_url=table.opt_string("index"),
    )


def _read_directory(
    table: Table, directory: Table, path: Path, name: NormalizedName, version: Version | None
) -> LockedPackage:
    """A ``[packages.directory]`` entry: a local package, built into a wheel from its
    folder (PEP 751: ``path``, optional ``editable`` and ``subdirectory``); installed
    as a wheel, never editable. Its version is the entry's, else the folder's own."""
    folder = PurePosixPath(directory.string("path"))
    subdirectory = directory.opt_string("subdirectory")
    if subdirectory:
        folder = folder / subdirectory
    directory.opt_bool("editable")  # checked for its type; the image installs a wheel
    package = local_package(
        lock_path=path,
        folder=Path(folder),
        where=f"{path.name}: {directory.path('path')}",
        name=name,
        version=version,
    )
    return replace(
        package,
        dependencies=tuple(
            Dependency(name=entry.name(), version=entry.opt_version("version"))
            for entry in table.tables("dependencies")
        ),
        marker=table.marker("marker"),
        requires_python=table.specifier("requires-python"),
    )


def _file(table: Table) -> LockedFile:
    url = table.opt_string("url")
    location = url or table.opt_string("path")
    filename = table.opt_string("name")
    if filename is None:
        if location is None:
            table.fail(None, "missing 'url' (or 'path' or 'name')")
        filename = unquote(PurePosixPath(urlsplit(location).path).name)
    hashes = table.table("hashes")
    if "sha256" not in hashes:
        hashes.fail(None, "missing 'sha256'")
    return make_file(
        filename=filename,
        url=url,
        sha256=hashes.string("sha256"),
        size=table.opt_int("size"),
        where=hashes.path("sha256"),
        lock_path=table.file,
    )
