"""Local packages: the project itself, workspace members and path dependencies.

A lock names these by folder, not by file (:attr:`LockedPackage.local`). :func:`pack`
turns each installable one into a source archive, ``NAME-VERSION.tar.gz``, kept in the
download cache by its sha256; the lock then pins that archive as the package's sdist,
and from there on a local package is an sdist like any other: compiled into a wheel in
the compile build, offline, with its build requirements locked in
``containerize-build.lock``, hashed, and installed as a wheel (not editable), so its
console scripts and ``importlib.metadata`` work in the image.

The archive is made reproducibly: members sorted, dates, owners and modes fixed, and
the gzip header without a date, so the same sources give the same sha256 (and the
compiled wheel is taken from the cache). Version control folders, caches and build
output are left out. It carries a ``PKG-INFO`` with the version containerize knows (the
lock's, else ``[project]``'s or git's): a backend that reads its version from git
(setuptools-scm, hatch-vcs) reads it from there, and the compile build passes it in as
``SETUPTOOLS_SCM_PRETEND_VERSION`` too, so no ``.git`` is needed.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from dataclasses import replace
from pathlib import Path

from containerize.errors import LockError
from containerize.fsutil import replacing_file
from containerize.resolve.cache import Cache
from containerize.resolve.lock.model import Lock, LockedFile, LockedPackage, sort_packages

#: Folders never packed: version control, virtual environments, caches, build output.
SKIPPED_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", ".venv", "venv", "__pycache__", ".containerize",
        ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox", ".nox", "build", "dist",
        "node_modules",
    }
)  # fmt: skip
_SKIPPED_SUFFIXES = (".pyc", ".pyo", ".egg-info")
_FIXED_MTIME = 315532800  # 1980-01-01, as the compile build's SOURCE_DATE_EPOCH


def pack(lock: Lock, cache: Cache) -> Lock:
    """*lock* with every installable local package pinned to its packed sources."""
    locals_ = [p for p in lock.local_packages if p.installable and not p.files]
    if not locals_:
        return lock
    packed = {p.name: _packed(lock, p, cache) for p in locals_}
    packages = [packed.get(p.name, p) if p in locals_ else p for p in lock.packages]
    return replace(lock, packages=sort_packages(packages))


def source_files(folder: Path) -> list[Path]:
    """The files of *folder* that go into its archive, sorted, relative to it."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(
            d for d in dirs if d not in SKIPPED_DIRS and not d.endswith(_SKIPPED_SUFFIXES)
        )
        for name in files:
            if not name.endswith(_SKIPPED_SUFFIXES):
                found.append((Path(root) / name).relative_to(folder))
    return sorted(found, key=lambda p: p.as_posix())


def archive_bytes(folder: Path, name: str, version: str) -> bytes:
    """The reproducible ``.tar.gz`` of *folder*'s sources as ``NAME-VERSION/...``."""
    top = f"{name.replace('-', '_')}-{version}"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        pkg_info = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
        _add(tar, f"{top}/PKG-INFO", pkg_info, executable=False)
        for relative in source_files(folder):
            if relative.as_posix() == "PKG-INFO":
                continue
            path = folder / relative
            if path.is_symlink() or not path.is_file():
                continue
            _add(tar, f"{top}/{relative.as_posix()}", path.read_bytes(), executable=_x(path))
    raw = buffer.getvalue()
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as stream:
        stream.write(raw)
    return out.getvalue()


def _x(path: Path) -> bool:
    return bool(path.stat().st_mode & 0o111)


def _add(tar: tarfile.TarFile, arcname: str, data: bytes, *, executable: bool) -> None:
    info = tarfile.TarInfo(arcname)
    info.size = len(data)
    info.mtime = _FIXED_MTIME
    info.mode = 0o755 if executable else 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def _packed(lock: Lock, package: LockedPackage, cache: Cache) -> LockedPackage:
    assert package.local is not None
    folder = (lock.path.parent / package.local).resolve()
    where = f"{lock.path.name}: {package.name}"
    if not (folder / "pyproject.toml").is_file() and not (folder / "setup.py").is_file():
        raise LockError(
            f"{where}: its folder {folder} has no pyproject.toml or setup.py to build it from",
            hint=f"check the path in the lock, or re-lock with '{lock.relock_command}'",
        )
    data = archive_bytes(folder, str(package.name), str(package.version))
    filename = f"{str(package.name).replace('-', '_')}-{package.version}.tar.gz"
    sha256 = hashlib.sha256(data).hexdigest()
    entry = cache.entry(sha256, filename)
    if cache.lookup(sha256, filename) is None:
        entry.parent.mkdir(parents=True, exist_ok=True)
        with replacing_file(entry) as partial:
            partial.write_bytes(data)
            partial.chmod(0o644)
    file = LockedFile(filename=filename, url=None, sha256=sha256, size=len(data))
    return replace(package, files=(file,))
