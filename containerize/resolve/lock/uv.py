"""Read ``uv.lock`` (``version = 1``).

The project itself appears in the lock as a package whose source is ``virtual``,
``editable`` or ``directory`` with path ``"."``: its dependencies become the lock's
:attr:`~containerize.lock.model.Lock.roots`. When it is a package (``editable`` or
``directory``: it has a build system), it is also a local package the image installs
(:attr:`~containerize.lock.model.Lock.project_package`). Other workspace members and
path dependencies are local packages too (:attr:`LockedPackage.local`), built into
wheels from their sources; a ``virtual`` member is never installed, only its
dependencies are (:func:`containerize.resolve.lock.for_project` makes a member the
project when the image is built from its folder).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from packaging.markers import Marker
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from containerize.project import MAIN_GROUP, project_version, read_project
from containerize.resolve.lock.model import (
    Dependency,
    Lock,
    LockedFile,
    LockedPackage,
    make_file,
    sort_packages,
)
from containerize.tables import Table, load_toml

_HINT = "the lock file is damaged or was edited by hand; regenerate it with 'uv lock'"
_LOCAL_SOURCES = ("virtual", "editable", "directory")


def read_uv_lock(path: Path) -> Lock:
    """Read a ``uv.lock`` into a :class:`Lock`."""
    top = load_toml(path, hint=_HINT)
    version = top.raw("version")
    if version != 1:
        top.fail("version", f"uv.lock version {version!r} is not supported (expected 1)")
    packages: list[LockedPackage] = []
    roots: list[tuple[str, frozenset[NormalizedName]]] = []
    project_package = None
    for table in top.tables("package"):
        source = table.table("source")
        if _is_project_root(source):
            roots.extend(_roots(table))
            if source.raw("virtual") is None:
                project_package = table.name()
                packages.append(_read_local(table, source, path.parent))
            continue
        if any(kind in source for kind in _LOCAL_SOURCES):
            packages.append(_read_local(table, source, path.parent))
            continue
        packages.append(_read_package(table, source))
    return Lock(
        path=path,
        format="uv",
        packages=sort_packages(packages),
        requires_python=top.specifier("requires-python"),
        content_hash=None,
        has_graph=True,
        roots=tuple(sorted(roots)),
        project_package=project_package,
    )


def _is_project_root(source: Table) -> bool:
    return any(source.raw(kind) == "." for kind in _LOCAL_SOURCES)


def _roots(table: Table) -> list[tuple[str, frozenset[NormalizedName]]]:
    roots = [(MAIN_GROUP, frozenset(d.name for d in _deps(table, "dependencies")))]
    for key, prefix in (("optional-dependencies", "extra:"), ("dev-dependencies", "")):
        groups = table.opt_table(key)
        if groups is None:
            continue
        for group, _ in groups.items():
            name = canonicalize_name(group) if prefix else group
            roots.append((f"{prefix}{name}", frozenset(d.name for d in _deps(groups, group))))
    return roots


def _read_local(table: Table, source: Table, top: Path) -> LockedPackage:
    """A workspace member, path dependency or the project itself: no files, a folder."""
    kind = next(kind for kind in _LOCAL_SOURCES if kind in source)
    folder = source.string(kind)
    name = table.name()
    version = table.opt_version("version")
    if version is None:
        # uv records no version for a member whose version is dynamic (read from git
        # by setuptools-scm or hatch-vcs): it is the one containerize knows.
        member = top / folder
        version = Version(project_version(read_project(member / "pyproject.toml"), member))
    optional = table.opt_table("optional-dependencies")
    extras = []
    if optional is not None:
        extras = [(canonicalize_name(e), _deps(optional, e)) for e, _ in optional.items()]
    return LockedPackage(
        name=name,
        version=version,
        dependencies=_deps(table, "dependencies"),
        optional_dependencies=tuple(sorted(extras, key=lambda pair: pair[0])),
        local=PurePosixPath(folder).as_posix(),
        installable=kind != "virtual",
    )


def _read_package(table: Table, source: Table) -> LockedPackage:
    name = table.name()
    files: list[LockedFile] = []
    sdist = table.opt_table("sdist")
    if sdist is not None:
        files.append(_file(sdist))
    files.extend(_file(wheel) for wheel in table.tables("wheels"))
    optional = table.opt_table("optional-dependencies")
    extras = []
    if optional is not None:
        extras = [(canonicalize_name(e), _deps(optional, e)) for e, _ in optional.items()]
    resolution = table.string_array("resolution-markers")
    marker = None
    if resolution:
        marker = table.parse_marker(
            "resolution-markers", " or ".join(f"({m})" for m in resolution if m)
        )
    registry = source.opt_string("registry")
    return LockedPackage(
        name=name,
        version=table.version(),
        files=tuple(sorted(files, key=lambda f: f.filename)),
        dependencies=_deps(table, "dependencies"),
        optional_dependencies=tuple(sorted(extras, key=lambda pair: pair[0])),
        marker=marker,
        source_url=registry or source.opt_string("url") or source.opt_string("git"),
    )


def _file(table: Table) -> LockedFile:
    url = table.opt_string("url")
    location = url or table.opt_string("path") or table.opt_string("filename")
    if location is None:
        table.fail(None, "missing 'url'")
    filename = table.opt_string("filename") or _basename(location)
    digest = table.string("hash")
    algorithm, _, value = digest.partition(":")
    if algorithm != "sha256":
        table.fail("hash", f"{digest!r} is not a sha256 hash")
    return make_file(
        filename=filename,
        url=url,
        sha256=value,
        size=table.opt_int("size"),
        where=table.path("hash"),
        lock_path=table.file,
    )


def _basename(location: str) -> str:
    return unquote(PurePosixPath(urlsplit(location).path).name)


def _deps(table: Table, key: str) -> tuple[Dependency, ...]:
    deps = []
    for entry in table.tables(key):
        marker: Marker | None = entry.marker("marker")
        deps.append(
            Dependency(
                name=entry.name(),
                marker=marker,
                extras=frozenset(canonicalize_name(e) for e in entry.string_array("extra")),
                version=entry.opt_version("version"),
            )
        )
    return tuple(deps)
