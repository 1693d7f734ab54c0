"""The content-addressed file cache and the parallel, hash-verified downloader.

A locked file is identified by its sha256, so the cache is keyed by it and shared by
every project and platform on the machine. A file the cache holds is never asked for
again: a run with a warm cache sends no request at all. A file that is missing is
looked up and downloaded with its hash checked as it streams; nothing whose hash does
not match the lock is ever kept, in the cache or in the destination folder.

A hash that does not match is explained (:class:`HashMismatchError`): a download cut
short (retried once), a file that changed on the index since the lock was written, or
bytes changed in transit. Downloads in progress live in the cache's ``partial`` folder
under names that carry the process id: an interrupted fetch removes its own, and a
later run removes those of a run that was killed (:meth:`Cache.remove_leftovers`).
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from packaging.utils import NormalizedName, canonicalize_name

from containerize.errors import ConfigError, ContainerizeError, FetchError, Interrupted
from containerize.fsutil import owner_gone
from containerize.resolve.client import Cancelled, IndexClient
from containerize.resolve.pipconfig import (
    FindLinks,
    IndexSettings,
    IndexSource,
    redact_text,
    redact_url,
)

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_PARTIAL_PREFIX = ".partial-"
_PARTIAL_RE = re.compile(r"^([0-9]+)-[a-z0-9_]+\.part$")


@dataclass(frozen=True, kw_only=True)
class FileRequest:
    """One file the lock says the image needs.

    *url* is where the lock says it lives (``uv.lock`` and ``pylock.toml`` record it,
    ``poetry.lock`` does not); without it the configured indexes are searched.
    """

    name: NormalizedName
    version: str
    filename: str
    sha256: str
    url: str | None = None
    size: int | None = None
    """The size the lock records (``uv.lock`` and ``pylock.toml`` do), if any."""


@dataclass(frozen=True, kw_only=True)
class FetchedFile:
    """Where one requested file is now, and whether it had to be downloaded."""

    name: NormalizedName
    version: str
    filename: str
    sha256: str
    path: Path
    """The file in the destination folder, or in the cache when there is none."""
    cache_path: Path
    hit: bool
    bytes_downloaded: int = 0
    source: str | None = None
    """The URL it was downloaded from (credentials redacted); ``None`` for a hit."""


@dataclass(frozen=True, kw_only=True)
class FetchReport:
    """The outcome of :func:`fetch`, one entry per distinct file, sorted by file name."""

    files: tuple[FetchedFile, ...]

    @property
    def hits(self) -> int:
        """How many files came from the cache."""
        return sum(1 for f in self.files if f.hit)

    @property
    def misses(self) -> int:
        """How many files were downloaded."""
        return sum(1 for f in self.files if not f.hit)

    @property
    def bytes_downloaded(self) -> int:
        """Bytes received from the network (or copied from local indexes)."""
        return sum(f.bytes_downloaded for f in self.files)

    def path(self, filename: str) -> Path:
        """Where the file called *filename* is."""
        for fetched in self.files:
            if fetched.filename == filename:
                return fetched.path
        raise KeyError(filename)


@dataclass(frozen=True, kw_only=True)
class Cache:
    """Files by content: ``ROOT/sha256/<first two>/<hash>/<filename>``."""

    root: Path

    @classmethod
    def default(cls, environ: Mapping[str, str] = os.environ) -> Cache:
        """``$CONTAINERIZE_CACHE_DIR``, else ``$XDG_CACHE_HOME/containerize/files``,
        else ``~/.cache/containerize/files``."""
        explicit = environ.get("CONTAINERIZE_CACHE_DIR")
        if explicit:
            root = Path(explicit).expanduser()
            where = "CONTAINERIZE_CACHE_DIR"
        else:
            xdg = environ.get("XDG_CACHE_HOME")
            base = Path(xdg) if xdg else Path(environ.get("HOME") or Path.home()) / ".cache"
            root = base / "containerize" / "files"
            where = "XDG_CACHE_HOME" if xdg else "HOME"
        for folder in (root, *root.parents):
            if folder.exists():
                if not folder.is_dir():
                    raise ConfigError(
                        f"{where}: the download cache {root} cannot be made: {folder} is a file",
                        hint=f"point {where} at a folder, or unset it",
                    )
                break
        return cls(root=root)

    def entry(self, sha256: str, filename: str) -> Path:
        """Where the file with this hash and name is (or would be) kept."""
        return self.root / "sha256" / sha256[:2] / sha256 / filename

    @property
    def partial_folder(self) -> Path:
        """Where downloads in progress are written: ``<pid>-<random>.part``."""
        return self.root / "partial"

    def remove_leftovers(self) -> list[str]:
        """Remove the partial downloads of runs that ended without cleaning up."""
        try:
            entries = sorted(self.partial_folder.iterdir())
        except OSError:
            return []
        removed = []
        for entry in entries:
            match = _PARTIAL_RE.match(entry.name)
            if match is not None and owner_gone(int(match[1])):
                entry.unlink(missing_ok=True)
                removed.append(entry.name)
        return removed

    def lookup(self, sha256: str, filename: str) -> Path | None:
        """The cached file, re-hashed; a corrupt entry is deleted and ``None`` returned.

        Entries are renamed into place without fsync, so a crash can leave a truncated
        file behind a valid name: re-checking the hash on every use is what makes the
        cache trustworthy.
        """
        path = self.entry(sha256, filename)
        if not path.is_file():
            return None
        actual = _sha256_of(path)
        if actual == sha256:
            return path
        logger.warning(
            "discarding corrupt cache entry %s (sha256 %s, expected %s)", path, actual, sha256
        )
        path.unlink(missing_ok=True)
        return None


def fetch(
    requests: Iterable[FileRequest],
    *,
    settings: IndexSettings,
    cache: Cache,
    dest: Path | None = None,
    jobs: int = 8,
) -> FetchReport:
    """Make every requested file available in *cache* (and in *dest*, if given).

    Files already cached are used without any network request. The others are taken
    from the lock's URL when it has one (falling back to the indexes if that URL cannot
    be reached), else from the first find-links location or index in *settings* whose
    project page lists the file name. Downloads run *jobs* at a time. Each file is
    linked (or copied) into *dest* atomically. All failures are collected and raised
    together as one :class:`FetchError` once the other downloads have finished.
    """
    if jobs < 1:
        raise ConfigError(f"jobs must be at least 1, not {jobs}")
    unique = _unique_requests(requests)
    if dest is not None:
        dest.mkdir(parents=True, exist_ok=True)
    client = IndexClient(settings)
    partials = _Partials(cache.partial_folder)
    fetched: list[FetchedFile] = []
    failures: list[tuple[FileRequest, ContainerizeError]] = []
    active: set[str] = set()
    lock = threading.Lock()

    def work(request: FileRequest) -> None:
        with lock:
            active.add(request.filename)
        try:
            result = _fetch_one(request, client=client, cache=cache, dest=dest, partials=partials)
        except ContainerizeError as exc:
            with lock:
                failures.append((request, exc))
        else:
            with lock:
                fetched.append(result)
        finally:
            with lock:
                active.discard(request.filename)

    busy: list[str] = []

    def cancel() -> None:
        with lock:
            busy.extend(sorted(active))
            busy.append(f"{len(fetched)} of {len(unique)} files ready")
        partials.cancel()

    try:
        client.map(work, unique, jobs=jobs, on_cancel=cancel)
    except Interrupted as exc:
        *names, ready = busy or [f"{len(unique)} files to fetch"]
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        exc.doing(f"downloading {shown} ({ready})" if names else f"fetching files ({ready})")
        if partials.removed:
            exc.note(f"removed {partials.removed} partial download(s)")
        raise

    if failures:
        failures.sort(key=lambda item: item[0].filename)
        if len(failures) == 1:
            raise failures[0][1]
        raise FetchErrors(tuple(exc for _, exc in failures))
    report = FetchReport(files=tuple(sorted(fetched, key=lambda f: (f.filename, f.sha256))))
    logger.info(
        "%d files ready: %d from cache, %d downloaded (%d bytes)",
        len(report.files),
        report.hits,
        report.misses,
        report.bytes_downloaded,
    )
    return report


def _unique_requests(requests: Iterable[FileRequest]) -> list[FileRequest]:
    by_filename: dict[str, FileRequest] = {}
    for given in requests:
        sha256 = given.sha256.strip().lower()
        if not _SHA256_RE.match(sha256):
            raise FetchError(
                f"{given.filename}: {given.sha256!r} is not a sha256 hex digest",
                hint="the lock file is damaged; re-lock the project",
            )
        if "/" in given.filename or given.filename in {"", ".", ".."}:
            raise FetchError(f"{given.filename!r} is not a file name")
        request = FileRequest(
            name=canonicalize_name(given.name),
            version=given.version,
            filename=given.filename,
            sha256=sha256,
            url=given.url,
            size=given.size,
        )
        known = by_filename.get(request.filename)
        if known is None:
            by_filename[request.filename] = request
        elif known.sha256 != sha256:
            raise FetchError(
                f"{request.filename} is locked with two different hashes: "
                f"{known.sha256} and {sha256}",
                hint="the lock file is inconsistent; re-lock the project",
            )
    return sorted(by_filename.values(), key=lambda r: r.filename)


def _fetch_one(
    request: FileRequest,
    *,
    client: IndexClient,
    cache: Cache,
    dest: Path | None,
    partials: _Partials,
) -> FetchedFile:
    cached = cache.lookup(request.sha256, request.filename)
    if cached is not None:
        logger.debug("%s: from cache", request.filename)
        return _result(request, cached, dest=dest, hit=True, partials=partials)
    size, url = _download(request, client=client, cache=cache, partials=partials)
    path = cache.entry(request.sha256, request.filename)
    return _result(request, path, dest=dest, hit=False, size=size, url=url, partials=partials)


def _result(
    request: FileRequest,
    cached: Path,
    *,
    dest: Path | None,
    hit: bool,
    partials: _Partials,
    size: int = 0,
    url: str | None = None,
) -> FetchedFile:
    path = cached if dest is None else partials.place(cached, dest / request.filename)
    return FetchedFile(
        name=request.name,
        version=request.version,
        filename=request.filename,
        sha256=request.sha256,
        path=path,
        cache_path=cached,
        hit=hit,
        bytes_downloaded=size,
        source=None if url is None else redact_url(url),
    )


def _download(
    request: FileRequest, *, client: IndexClient, cache: Cache, partials: _Partials
) -> tuple[int, str]:
    """Find and download *request* into the cache; returns (bytes, URL)."""
    tried: list[str] = []
    if request.url is not None:
        try:
            size = _download_checked(
                request, request.url, client=client, cache=cache, partials=partials
            )
        except _Unreachable as exc:
            # A lock recorded on another machine may name an index this one cannot
            # reach; the hash identifies the file, so any configured index will do.
            logger.warning("%s; looking on the configured indexes instead", exc.error.message)
            tried.append(f"{redact_url(request.url)} (from the lock: {exc.error.message})")
        else:
            return size, request.url

    settings = client.settings
    sources: tuple[FindLinks | IndexSource, ...] = (*settings.find_links, *settings.indexes)
    for source in sources:
        tried.append(f"{redact_url(source.url)} ({source.origin})")
        for listed in client.project_files(source, request.name):
            if listed.filename != request.filename:
                continue
            if listed.sha256 is not None and listed.sha256 != request.sha256:
                raise HashMismatchError(
                    Mismatch(
                        kind="changed",
                        filename=request.filename,
                        url=redact_url(source.url),
                        locked=request.sha256,
                        listed=listed.sha256,
                    )
                )
            if listed.yanked:
                logger.warning(
                    "%s is yanked on %s%s",
                    request.filename,
                    redact_url(source.url),
                    f": {listed.yanked_reason}" if listed.yanked_reason else "",
                )
            try:
                size = _download_checked(
                    request,
                    listed.url,
                    client=client,
                    cache=cache,
                    partials=partials,
                    listed=listed.sha256,
                    listed_size=listed.size,
                )
            except _Unreachable as exc:
                raise exc.error from None
            return size, listed.url

    where = "\n".join(f"    {entry}" for entry in tried) or "    (no index is configured)"
    raise FetchError(
        f"{request.filename} ({request.name} {request.version}) was not found; looked in:\n{where}",
        hint="check pip's configuration (`python -m pip config debug`, PIP_INDEX_URL, "
        "PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS) or the project's Poetry sources",
    )


class _Unreachable(Exception):
    """The URL could not be opened or read; the hash was never compared."""

    def __init__(self, error: FetchError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass(frozen=True, kw_only=True)
class _Received:
    """What one download attempt got, when its hash did not match."""

    sha256: str
    size: int
    expected_size: int | None  # what the server, the index or the lock said
    cut: str | None  # why the connection ended early, if it visibly did

    @property
    def short(self) -> bool:
        return self.cut is not None or (
            self.expected_size is not None and self.size < self.expected_size
        )


def _download_checked(
    request: FileRequest,
    url: str,
    *,
    client: IndexClient,
    cache: Cache,
    partials: _Partials,
    listed: str | None = None,
    listed_size: int | None = None,
) -> int:
    """Download *url* into the cache, or raise :class:`HashMismatchError` saying why
    its hash does not match: a download cut short is tried once more first."""
    sizes = [s for s in (request.size, listed_size) if s is not None]
    received = None
    for attempt in (1, 2):
        outcome = _download_url(
            request, url, client=client, cache=cache, partials=partials, sizes=sizes
        )
        if isinstance(outcome, int):
            return outcome
        received = outcome
        if not received.short or attempt == 2:
            break
        logger.warning(
            "%s: the download was cut short (%d of %s bytes%s); trying once more",
            request.filename,
            received.size,
            received.expected_size if received.expected_size is not None else "?",
            f": {received.cut}" if received.cut else "",
        )
    assert received is not None
    shown = redact_url(url)
    if received.short:
        kind: MismatchKind = "truncated"
    else:
        if listed is None:
            listed = _listed_sha256(request, client)
        if listed == request.sha256:
            kind = "corrupted"
        elif listed is not None:
            kind = "changed"
        else:
            kind = "unexplained"
    raise HashMismatchError(
        Mismatch(
            kind=kind,
            filename=request.filename,
            url=shown,
            locked=request.sha256,
            actual=received.sha256,
            listed=listed,
            received=received.size,
            expected_size=received.expected_size,
            cut=received.cut,
        )
    )


def _listed_sha256(request: FileRequest, client: IndexClient) -> str | None:
    """The sha256 a configured source lists for the file, to explain a mismatch."""
    settings = client.settings
    sources: tuple[FindLinks | IndexSource, ...] = (*settings.find_links, *settings.indexes)
    for source in sources:
        try:
            listed = client.project_files(source, request.name)
        except FetchError:
            continue
        for item in listed:
            if item.filename == request.filename and item.sha256 is not None:
                return item.sha256
    return None


def _download_url(
    request: FileRequest,
    url: str,
    *,
    client: IndexClient,
    cache: Cache,
    partials: _Partials,
    sizes: list[int],
) -> int | _Received:
    """Stream *url* into the cache entry, checking the hash.

    Returns the size when the hash matched (the file is then in the cache), else what
    was received (the file was not kept). The bytes go to a file in the cache's
    partial folder, renamed into the entry when they match.
    """
    final = cache.entry(request.sha256, request.filename)
    shown = redact_url(url)
    logger.info("downloading %s", shown)
    try:
        with client.open(url) as stream:
            expected = max([*sizes, *_declared_length(stream)], default=None)
            out, temp = partials.create()
            try:
                with out:
                    actual, size, cut = _copy(stream, out, shown, request, cache)
                if client.cancelled:
                    raise Cancelled(url)
                if actual != request.sha256:
                    partials.discard(temp)
                    return _Received(sha256=actual, size=size, expected_size=expected, cut=cut)
                # mkstemp creates 0600; the wheelhouse is copied into images.
                temp.chmod(0o644)
                final.parent.mkdir(parents=True, exist_ok=True)
                partials.commit(temp, final)
            except BaseException:
                partials.discard(temp)
                raise
    except _NoSpace:
        raise
    except FetchError as exc:  # it could not be opened, or reading it broke off
        raise _Unreachable(exc) from None
    logger.debug("%s: %d bytes, sha256 verified", request.filename, size)
    return size


class _BrokeOff(FetchError):
    """Reading a download failed for another reason than the connection closing."""


class _NoSpace(FetchError):
    """The disk filled up while writing a download."""


def _copy(
    stream: IO[bytes], out: IO[bytes], shown: str, request: FileRequest, cache: Cache
) -> tuple[str, int, str | None]:
    """Copy *stream* to *out*: (sha256, size, why the connection ended early or None)."""
    digest = hashlib.sha256()
    size = 0
    while True:
        try:
            chunk = stream.read(_CHUNK)
        except (http.client.IncompleteRead, ConnectionError) as exc:
            # The connection ended before the body did: a cut, retried by the caller.
            return digest.hexdigest(), size, type(exc).__name__
        except (OSError, http.client.HTTPException) as exc:
            raise _BrokeOff(
                f"download of {shown} broke off after {size} bytes: "
                f"{redact_text(str(exc)) or type(exc).__name__}",
                hint="retry; check the network or raise PIP_DEFAULT_TIMEOUT",
            ) from None
        if not chunk:
            return digest.hexdigest(), size, None
        digest.update(chunk)
        try:
            out.write(chunk)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise _NoSpace(
                    f"no space left while writing {request.filename} to {cache.root}",
                    hint="free disk space, or set CONTAINERIZE_CACHE_DIR elsewhere",
                ) from None
            raise
        size += len(chunk)


def _declared_length(stream: IO[bytes]) -> list[int]:
    """The Content-Length an HTTP response declares (as a list: none or one)."""
    headers = getattr(stream, "headers", None)
    if headers is None or headers.get("Content-Encoding"):
        return []
    text = headers.get("Content-Length")
    return [int(text)] if text is not None and text.strip().isdigit() else []


class _Partials:
    """The downloads one fetch has under way, so that an interrupted fetch removes them.

    After :meth:`cancel`, no new partial file is created and nothing more is placed
    in the destination folder (which the caller is about to remove).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.removed = 0
        self._lock = threading.Lock()
        self._paths: set[Path] = set()
        self._cancelled = False

    def create(self) -> tuple[IO[bytes], Path]:
        with self._lock:
            if self._cancelled:
                raise Cancelled(str(self.folder))
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=self.folder, prefix=f"{os.getpid()}-", suffix=".part")
            path = Path(name)
            self._paths.add(path)
        return os.fdopen(fd, "wb"), path

    def commit(self, temp: Path, final: Path) -> None:
        # A verified file may still enter the cache after a cancel: it is complete.
        os.replace(temp, final)
        with self._lock:
            self._paths.discard(temp)

    def discard(self, temp: Path) -> None:
        temp.unlink(missing_ok=True)
        with self._lock:
            self._paths.discard(temp)

    def place(self, source: Path, target: Path) -> Path:
        with self._lock:
            if self._cancelled:
                raise Cancelled(str(target))
            return _place(source, target)

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            for path in self._paths:
                try:
                    path.unlink()
                except FileNotFoundError:
                    continue
                self.removed += 1
            self._paths.clear()


def _place(source: Path, target: Path) -> Path:
    """Put *source* at *target* atomically: a hard link, or a copy across devices."""
    if target.exists() and target.samefile(source):
        # rename(2) of one hard link onto another of the same file is a no-op that
        # would leave the temporary name behind.
        return target
    temp = target.with_name(f"{_PARTIAL_PREFIX}{os.getpid()}-{threading.get_ident()}-{target.name}")
    temp.unlink(missing_ok=True)
    try:
        try:
            os.link(source, temp)
        except OSError:
            shutil.copyfile(source, temp)
            temp.chmod(0o644)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target


# --------------------------------------------------------------------------- errors

MismatchKind = Literal["truncated", "changed", "corrupted", "unexplained"]


@dataclass(frozen=True, kw_only=True)
class Mismatch:
    """Why a file's sha256 is not the lock's, as far as can be told.

    ``truncated``: fewer bytes arrived than the server, the index or the lock said
    (twice). ``changed``: the index lists another hash than the lock: the file was
    replaced upstream, or the lock was edited. ``corrupted``: the index lists the
    lock's hash but the bytes differ: changed in transit. ``unexplained``: the index
    lists no hash to tell the last two apart.
    """

    kind: MismatchKind
    filename: str
    url: str  # where the bytes (or the listing) came from, credentials redacted
    locked: str
    actual: str | None = None  # None when the listing alone told
    listed: str | None = None
    received: int | None = None
    expected_size: int | None = None
    cut: str | None = None


class HashMismatchError(FetchError):
    """A file's sha256 is not the one the lock records; the message says why."""

    def __init__(
        self, mismatch: Mismatch, *, lock: str | None = None, relock: str | None = None
    ) -> None:
        message, hint = _describe(mismatch, lock=lock, relock=relock)
        super().__init__(message, hint=hint)
        self.mismatch = mismatch

    def naming(self, lock: str, relock: str) -> HashMismatchError:
        """The same error, naming the lock file and the command that re-locks it."""
        return HashMismatchError(self.mismatch, lock=lock, relock=relock)


class FetchErrors(FetchError):
    """Several files could not be fetched; each error is kept."""

    def __init__(self, errors: tuple[ContainerizeError, ...]) -> None:
        listed = "\n".join(f"  - {exc.message}" for exc in errors)
        hints = sorted({exc.hint for exc in errors if exc.hint})
        super().__init__(
            f"{len(errors)} files could not be fetched:\n{listed}",
            hint="; ".join(hints) or None,
        )
        self.errors = errors


def naming_the_lock(error: FetchError, lock: str, relock: str) -> FetchError:
    """*error* with every hash mismatch in it naming *lock* and *relock*."""
    if isinstance(error, HashMismatchError):
        return error.naming(lock, relock)
    if isinstance(error, FetchErrors):
        return FetchErrors(
            tuple(
                e.naming(lock, relock) if isinstance(e, HashMismatchError) else e
                for e in error.errors
            )
        )
    return error


def _describe(mismatch: Mismatch, *, lock: str | None, relock: str | None) -> tuple[str, str]:
    m = mismatch
    lock_name = lock or "the lock"
    relock_hint = f"re-lock with '{relock}'" if relock else "re-lock the project"
    head = f"{m.filename}: hash mismatch: "
    if m.kind == "truncated":
        of = f" of {m.expected_size}" if m.expected_size is not None else ""
        how = f" ({m.cut})" if m.cut else ""
        return (
            f"{head}the download from {m.url} was cut short twice{how}: {m.received}{of} "
            f"bytes arrived, which hash to sha256 {m.actual}, not {m.locked} as {lock_name} "
            "records; the file was not kept",
            "the network or a proxy closed the connection early: retry, check the "
            "connection and proxy settings (https_proxy), or raise PIP_DEFAULT_TIMEOUT; "
            "the lock is fine, do not re-lock",
        )
    if m.kind == "changed":
        served = f", and the bytes it serves hash to {m.actual}" if m.actual else ""
        return (
            f"{head}{m.url} lists sha256 {m.listed}, but {lock_name} records {m.locked}"
            f"{served}: the file changed on the index since the project was locked, or the "
            "lock was edited; the file was not kept",
            f"if the new file is expected (re-uploaded, or another index), {relock_hint} "
            "and review the change; if not, restore the lock from version control, or use "
            "the index the project was locked against",
        )
    if m.kind == "corrupted":
        return (
            f"{head}the bytes from {m.url} hash to sha256 {m.actual} ({m.received} bytes), "
            f"but both the index and {lock_name} record {m.locked}: the download was "
            "corrupted or tampered with in transit; the file was not kept",
            "retry; if it happens again, check what sits between this machine and the "
            "index (https_proxy, a caching proxy, a mirror); do not re-lock to make it pass",
        )
    if m.url.startswith("file:"):
        return (
            f"{head}{m.url} hashes to sha256 {m.actual} ({m.received} bytes), but "
            f"{lock_name} records {m.locked}: that local folder holds another file under "
            "this name; the file was not kept",
            f"put the locked file in that folder (or remove it from your pip "
            f"configuration's find-links or index), or {relock_hint} against it",
        )
    return (
        f"{head}the bytes from {m.url} hash to sha256 {m.actual} ({m.received} bytes), but "
        f"{lock_name} records {m.locked}, and the index lists no hash to tell whether the "
        "file changed upstream or in transit; the file was not kept",
        f"if the file was replaced upstream, {relock_hint}; if not, it was changed on the "
        "way: retry, and check proxies (https_proxy)",
    )


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
