"""The parallel, hash-verified downloader that fills the content-addressed cache.

A file the cache (:mod:`containerize.resolve.cache`) holds is never asked for
again: a run with a warm cache sends no request at all. A file that is missing is
looked up and downloaded with its hash checked as it streams; nothing whose hash does
not match the lock is ever kept, in the cache or in the destination folder.

A hash that does not match is explained (:mod:`containerize.resolve.mismatch`): a download cut
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
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from packaging.utils import NormalizedName, canonicalize_name

from containerize.errors import ConfigError, ContainerizeError, FetchError, Interrupted
from containerize.resolve.cache import Cache, Partials
from containerize.resolve.client import Cancelled, IndexClient
from containerize.resolve.mismatch import (
    FetchErrors,
    HashMismatchError,
    Mismatch,
    MismatchKind,
)
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


class SharedFiles(Protocol):
    """Files shared between machines by their sha256 (a
    :class:`containerize.resolve.sharing.SharedCache`)."""

    def pull_file(self, sha256: str, filename: str) -> Path | None:
        """The file, pulled into the cache; None when nobody shared it."""
        ...

    def push_file(self, sha256: str, filename: str) -> bool:
        """Share the cached file; True when it was not shared yet."""
        ...


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
    """Whether it was in this machine's cache already."""
    shared: bool = False
    """Whether it was pulled from the shared cache (not downloaded from an index)."""
    bytes_downloaded: int = 0
    source: str | None = None
    """Where it came from: the URL it was downloaded from (credentials redacted), or
    the shared cache's repository; ``None`` for a hit."""


@dataclass(frozen=True, kw_only=True)
class FetchReport:
    """The outcome of :func:`fetch`, one entry per distinct file, sorted by file name."""

    files: tuple[FetchedFile, ...]

    @property
    def hits(self) -> int:
        """How many files were in this machine's cache already."""
        return sum(1 for f in self.files if f.hit)

    @property
    def shared(self) -> int:
        """How many files were pulled from the shared cache."""
        return sum(1 for f in self.files if f.shared)

    @property
    def misses(self) -> int:
        """How many files were downloaded from an index (or a find-links location)."""
        return sum(1 for f in self.files if not f.hit and not f.shared)

    @property
    def bytes_downloaded(self) -> int:
        """Bytes received from the indexes (or copied from local ones)."""
        return sum(f.bytes_downloaded for f in self.files if not f.shared)

    @property
    def bytes_shared(self) -> int:
        """Bytes pulled from the shared cache."""
        return sum(f.bytes_downloaded for f in self.files if f.shared)

    def counts(self) -> str:
        """Where the files came from, in words: ``2 from the shared cache (1.1 MiB), 1
        downloaded from the index (3.1 MiB), 4 already here``."""
        shared = f"{self.shared} from the shared cache ({human(self.bytes_shared)}), "
        index = f" ({human(self.bytes_downloaded)})" if self.misses else ""
        return (shared if self.shared else "") + (
            f"{self.misses} downloaded from the index{index}, {self.hits} already here"
        )

    def path(self, filename: str) -> Path:
        """Where the file called *filename* is."""
        for fetched in self.files:
            if fetched.filename == filename:
                return fetched.path
        raise KeyError(filename)


def fetch(
    requests: Iterable[FileRequest],
    *,
    settings: IndexSettings,
    cache: Cache,
    dest: Path | None = None,
    jobs: int = 8,
    shared: SharedFiles | None = None,
) -> FetchReport:
    """Make every requested file available in *cache* (and in *dest*, if given).

    Files already cached are used without any network request. The others are taken
    from the lock's URL when it has one (falling back to the indexes if that URL cannot
    be reached), else from the first find-links location or index in *settings* whose
    project page lists the file name. Downloads run *jobs* at a time. Each file is
    linked (or copied) into *dest* atomically. All failures are collected and raised
    together as one :class:`FetchError` once the other downloads have finished.

    With *shared* (:mod:`containerize.resolve.sharing`), a file the cache lacks is
    pulled from there first, and a file downloaded from an index is pushed there.
    """
    if jobs < 1:
        raise ConfigError(f"jobs must be at least 1, not {jobs}")
    unique = _unique_requests(requests)
    if dest is not None:
        dest.mkdir(parents=True, exist_ok=True)
    client = IndexClient(settings)
    partials = Partials(cache.partial_folder)
    fetched: list[FetchedFile] = []
    failures: list[tuple[FileRequest, ContainerizeError]] = []
    active: set[str] = set()
    lock = threading.Lock()

    def work(request: FileRequest) -> None:
        with lock:
            active.add(request.filename)
        try:
            result = _fetch_one(
                request, client=client, cache=cache, dest=dest, partials=partials, shared=shared
            )
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
    logger.info("%d files ready: %s", len(report.files), report.counts())
    return report


def human(size: int) -> str:
    """*size* bytes, in the largest binary unit that keeps it at 1 or more."""
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


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
    partials: Partials,
    shared: SharedFiles | None = None,
) -> FetchedFile:
    cached = cache.lookup(request.sha256, request.filename)
    source = cache.pulled.get(request.sha256)
    if cached is not None and source is not None:
        # Pulled from the shared cache earlier in this run (for the build requirements,
        # or by the fetch before the compiled wheels joined): it still came from there.
        return _result(
            request,
            cached,
            dest=dest,
            hit=False,
            shared=True,
            size=cached.stat().st_size,
            url=source,
            partials=partials,
        )
    if cached is not None:
        logger.debug("%s: from cache", request.filename)
        return _result(request, cached, dest=dest, hit=True, partials=partials)
    if shared is not None:
        pulled = shared.pull_file(request.sha256, request.filename)
        if pulled is not None:
            return _result(
                request,
                pulled,
                dest=dest,
                hit=False,
                shared=True,
                size=pulled.stat().st_size,
                url=f"{shared}",
                partials=partials,
            )
    size, url = _download(request, client=client, cache=cache, partials=partials)
    path = cache.entry(request.sha256, request.filename)
    if shared is not None:
        shared.push_file(request.sha256, request.filename)
    return _result(request, path, dest=dest, hit=False, size=size, url=url, partials=partials)


def _result(
    request: FileRequest,
    cached: Path,
    *,
    dest: Path | None,
    hit: bool,
    partials: Partials,
    shared: bool = False,
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
        shared=shared,
        bytes_downloaded=size,
        source=None if url is None else redact_url(url),
    )


def _download(
    request: FileRequest, *, client: IndexClient, cache: Cache, partials: Partials
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
    partials: Partials,
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
    partials: Partials,
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
