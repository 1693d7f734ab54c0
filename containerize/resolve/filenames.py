"""Naming hashed files: a requirements lock says which bytes, the index says which file.

A ``--hash`` in a requirements file identifies a file by content but not by name, and
the name is what tells a wheel for ``linux/arm64`` from one for ``linux/amd64``. Before
selection, :func:`name_files` reads each such package's project page from the same
sources the fetch searches (find-links first, then the indexes, in order), keeps the
files whose sha256 the lock lists, and records their names and URLs. The result is an
ordinary :class:`~containerize.resolve.lock.model.Lock` whose packages have files, so
selection and fetching treat it like any other lock, and the fetch downloads each
chosen file from the URL found here (falling back to the indexes) and checks its hash.

Find-links folders and ``file://`` indexes without hashes in their pages have their
candidate files hashed on the spot. With a *names* folder (``<download cache>/names``),
what a package's pages said is remembered under its version, its set of hashes and
the sources searched: the same lock entry through the same configuration is named
again without a request, so a rebuild makes none. A hash that no source lists is left out with a
warning (selection then sees fewer files); a package none of whose hashes is listed
anywhere is an error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import urllib.parse
import urllib.request
from dataclasses import replace
from pathlib import Path

from packaging.version import Version

from containerize.errors import FetchError, Interrupted, LockError
from containerize.fsutil import write_atomic
from containerize.resolve.client import IndexClient
from containerize.resolve.lock.model import Lock, LockedFile, LockedPackage, make_file
from containerize.resolve.pipconfig import FindLinks, IndexSettings, IndexSource, redact_url
from containerize.resolve.simple import IndexFile, identity

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20


def name_files(
    lock: Lock, settings: IndexSettings, *, jobs: int = 8, names: Path | None = None
) -> Lock:
    """*lock* with every :attr:`~LockedPackage.unnamed_hashes` turned into named files.

    Each package's project page is read once, *jobs* pages at a time, unless *names*
    (a folder) remembers the answer for the same package, hashes and sources. Raises
    :class:`FetchError` when no source lists any file of a package, and
    :class:`LockError` when a hash belongs to another version than the one pinned.
    """
    pending = [p for p in lock.packages if p.unnamed_hashes]
    if not pending:
        return lock
    sources: tuple[FindLinks | IndexSource, ...] = (*settings.find_links, *settings.indexes)
    known = {id(p): _remembered(names, p, sources) for p in pending} if names else {}
    unknown = [p for p in pending if known.get(id(p)) is None]
    named: list[LockedPackage] = []
    if unknown:
        client = IndexClient(settings)
        try:
            named = client.map(
                lambda p: _name_package(lock, p, client, sources), unknown, jobs=jobs
            )
        except Interrupted as exc:
            exc.doing(f"reading the index pages of {len(unknown)} packages of {lock.path.name}")
            raise
        if names is not None:
            for old, new in zip(unknown, named, strict=True):
                _remember(names, old, sources, new)
    replacements = {id(old): new for old, new in zip(unknown, named, strict=True)}
    for old in pending:
        files = known.get(id(old))
        if files is not None:
            if len(files) < len(old.unnamed_hashes):
                logger.warning(
                    "%s: %s %s: %d of its %d hashed files were not listed on the configured "
                    "indexes; only the other %d can be chosen",
                    lock.path.name, old.name, old.version,
                    len(old.unnamed_hashes) - len(files), len(old.unnamed_hashes), len(files),
                )  # fmt: skip
            checked = tuple(_checked(lock, old, f) for f in files)
            replacements[id(old)] = replace(old, files=checked, unnamed_hashes=())
    packages = tuple(replacements.get(id(p), p) for p in lock.packages)
    return replace(lock, packages=packages)


def _names_key(package: LockedPackage, sources: tuple[FindLinks | IndexSource, ...]) -> str:
    """What a package's naming depends on: its version, its hashes, the sources searched."""
    text = json.dumps(
        [str(package.name), str(package.version), sorted(package.unnamed_hashes),
         [source.url for source in sources]]
    )  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()


def _remembered(
    names: Path, package: LockedPackage, sources: tuple[FindLinks | IndexSource, ...]
) -> tuple[LockedFile, ...] | None:
    """The files named for this package earlier, or None (nothing usable remembered)."""
    path = names / f"{_names_key(package, sources)}.json"
    try:
        entries = json.loads(path.read_text())
        files = tuple(
            LockedFile(filename=e["filename"], url=e["url"], sha256=e["sha256"]) for e in entries
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None  # never written, or damaged: read the pages again
    wanted = set(package.unnamed_hashes)
    if not files or any(f.sha256 not in wanted for f in files):
        return None
    return files


def _remember(
    names: Path,
    package: LockedPackage,
    sources: tuple[FindLinks | IndexSource, ...],
    named: LockedPackage,
) -> None:
    # Local folders can change under the same URL; only index answers are kept.
    if any(f.url is None or f.url.startswith("file:") for f in named.files):
        return
    entries = [{"filename": f.filename, "url": f.url, "sha256": f.sha256} for f in named.files]
    try:
        write_atomic(names / f"{_names_key(package, sources)}.json", json.dumps(entries))
    except OSError as exc:
        logger.debug("not remembering the file names of %s: %s", package.name, exc)


def _checked(lock: Lock, package: LockedPackage, file: LockedFile) -> LockedFile:
    """A remembered file, checked as a freshly listed one is."""
    item = IndexFile(filename=file.filename, url=file.url or "", sha256=file.sha256)
    return _named(lock, package, item, file.sha256)


def _name_package(
    lock: Lock,
    package: LockedPackage,
    client: IndexClient,
    sources: tuple[FindLinks | IndexSource, ...],
) -> LockedPackage:
    wanted = set(package.unnamed_hashes)
    found: dict[str, LockedFile] = {}
    tried: list[str] = []
    for source in sources:
        if len(found) == len(wanted):
            break
        try:
            listed = client.project_files(source, package.name)
        except FetchError as exc:
            # Another source may list the files; say why this one did not, if none does.
            tried.append(f"{redact_url(source.url)} ({source.origin}): {exc.message}")
            continue
        tried.append(f"{redact_url(source.url)} ({source.origin})")
        for item in listed:
            digest = item.sha256 or _local_sha256(item)
            if digest is None or digest not in wanted or digest in found:
                continue
            found[digest] = _named(lock, package, item, digest)
    if not found:
        where = "\n".join(f"    {entry}" for entry in tried) or "    (no index is configured)"
        raise FetchError(
            f"{lock.path.name}: {package.name}=={package.version}: none of its "
            f"{len(wanted)} hashed files is listed on the configured indexes; looked in:\n"
            f"{where}",
            hint="configure the index the lock was compiled against (pip's index-url or "
            "extra-index-url, or --extra-index-url in the requirements file), or re-lock "
            f"with '{lock.relock_command}' against an index this machine reaches",
        )
    missing = len(wanted) - len(found)
    if missing:
        logger.warning(
            "%s: %s %s: %d of its %d hashed files are not listed on the configured indexes; "
            "only the other %d can be chosen",
            lock.path.name,
            package.name,
            package.version,
            missing,
            len(wanted),
            len(found),
        )
    files = tuple(sorted(found.values(), key=lambda f: f.filename))
    return replace(package, files=files, unnamed_hashes=())


def _named(lock: Lock, package: LockedPackage, item: IndexFile, digest: str) -> LockedFile:
    """The locked file *item* is, after checking it is a file of the pinned version."""
    version = _version_of(item.filename)
    if version is not None and version != package.version:
        raise LockError(
            f"{lock.path.name}: {package.name}=={package.version}: hash {digest} is that of "
            f"{item.filename}, a file of version {version}",
            hint=f"the lock is inconsistent; re-lock with '{lock.relock_command}'",
        )
    return make_file(
        filename=item.filename,
        url=item.url,
        sha256=digest,
        size=None,
        where=f"{package.name}=={package.version}",
        lock_path=lock.path,
    )


def _local_sha256(item: IndexFile) -> str | None:
    """The sha256 of a file in a local folder (find-links, ``file://`` index), which
    records no hash; ``None`` for a remote file."""
    parts = urllib.parse.urlsplit(item.url)
    if parts.scheme != "file":
        return None
    path = Path(urllib.request.url2pathname(parts.path))
    digest = hashlib.sha256()
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise FetchError(
            f"cannot read {path}: {exc.strerror}",
            hint="check that the folder in your pip configuration is readable",
        ) from None
    return digest.hexdigest()


def _version_of(filename: str) -> Version | None:
    found = identity(filename)
    return found[1] if found else None
