"""The content-addressed file cache and the parallel, hash-verified downloader.

A locked file is identified by its sha256, so the cache is keyed by it and shared by
every project and platform on the machine. A file the cache holds is never asked for
again: a run with a warm cache sends no request at all. A file that is missing is
looked up and downloaded with its hash checked as it streams; nothing whose hash does
not match the lock is ever kept, in the cache or in the destination folder.
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import NormalizedName, canonicalize_name

from containerize.errors import ConfigError, ContainerizeError, FetchError
from containerize.resolve.client import IndexClient
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
            return cls(root=Path(explicit).expanduser())
        xdg = environ.get("XDG_CACHE_HOME")
        base = Path(xdg) if xdg else Path(environ.get("HOME") or Path.home()) / ".cache"
        return cls(root=base / "containerize" / "files")

    def entry(self, sha256: str, filename: str) -> Path:
        """Where the file with this hash and name is (or would be) kept."""
        return self.root / "sha256" / sha256[:2] / sha256 / filename

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
    fetched: list[FetchedFile] = []
    failures: list[tuple[FileRequest, ContainerizeError]] = []
    lock = threading.Lock()

    def work(request: FileRequest) -> None:
        try:
            result = _fetch_one(request, client=client, cache=cache, dest=dest)
        except ContainerizeError as exc:
            with lock:
                failures.append((request, exc))
        else:
            with lock:
                fetched.append(result)

    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="containerize-fetch") as pool:
        # Any unexpected exception (a bug, KeyboardInterrupt) surfaces via result().
        for future in [pool.submit(work, request) for request in unique]:
            future.result()

    if failures:
        failures.sort(key=lambda item: item[0].filename)
        if len(failures) == 1:
            raise failures[0][1]
        listed = "\n".join(f"  - {exc.message}" for _, exc in failures)
        hints = sorted({exc.hint for _, exc in failures if exc.hint})
        raise FetchError(
            f"{len(failures)} files could not be fetched:\n{listed}",
            hint="; ".join(hints) or None,
        )
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
    request: FileRequest, *, client: IndexClient, cache: Cache, dest: Path | None
) -> FetchedFile:
    cached = cache.lookup(request.sha256, request.filename)
    if cached is not None:
        logger.debug("%s: from cache", request.filename)
        return _result(request, cached, dest=dest, hit=True)
    size, url = _download(request, client=client, cache=cache)
    path = cache.entry(request.sha256, request.filename)
    return _result(request, path, dest=dest, hit=False, size=size, url=url)


def _result(
    request: FileRequest,
    cached: Path,
    *,
    dest: Path | None,
    hit: bool,
    size: int = 0,
    url: str | None = None,
) -> FetchedFile:
    path = cached if dest is None else _place(cached, dest / request.filename)
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


def _download(request: FileRequest, *, client: IndexClient, cache: Cache) -> tuple[int, str]:
    """Find and download *request* into the cache; returns (bytes, URL)."""
    tried: list[str] = []
    if request.url is not None:
        try:
            return _download_url(request, request.url, client=client, cache=cache), request.url
        except _Unreachable as exc:
            # A lock recorded on another machine may name an index this one cannot
            # reach; the hash identifies the file, so any configured index will do.
            logger.warning("%s; looking on the configured indexes instead", exc.error.message)
            tried.append(f"{redact_url(request.url)} (from the lock: {exc.error.message})")

    settings = client.settings
    sources: tuple[FindLinks | IndexSource, ...] = (*settings.find_links, *settings.indexes)
    for source in sources:
        tried.append(f"{redact_url(source.url)} ({source.origin})")
        for listed in client.project_files(source, request.name):
            if listed.filename != request.filename:
                continue
            if listed.sha256 is not None and listed.sha256 != request.sha256:
                raise FetchError(
                    f"{request.filename}: {redact_url(source.url)} lists sha256 "
                    f"{listed.sha256}, but the lock expects {request.sha256}",
                    hint="the file on the index was replaced, or the lock is stale; "
                    "re-lock, or check that the index is the one the project was locked "
                    "against",
                )
            if listed.yanked:
                logger.warning(
                    "%s is yanked on %s%s",
                    request.filename,
                    redact_url(source.url),
                    f": {listed.yanked_reason}" if listed.yanked_reason else "",
                )
            try:
                return _download_url(request, listed.url, client=client, cache=cache), listed.url
            except _Unreachable as exc:
                raise exc.error from None

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


def _download_url(request: FileRequest, url: str, *, client: IndexClient, cache: Cache) -> int:
    """Stream *url* into the cache entry, checking the hash; returns the size.

    The bytes go to a temporary file in the entry's own folder, so the final rename is
    atomic; on any failure the temporary file is removed.
    """
    final = cache.entry(request.sha256, request.filename)
    final.parent.mkdir(parents=True, exist_ok=True)
    shown = redact_url(url)
    logger.info("downloading %s", shown)
    fd, temp_name = tempfile.mkstemp(dir=final.parent, prefix=_PARTIAL_PREFIX)
    temp = Path(temp_name)
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "wb") as out:
            try:
                with client.open(url) as stream:
                    while chunk := stream.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        size += len(chunk)
            except FetchError as exc:
                raise _Unreachable(exc) from None
            except (OSError, http.client.HTTPException) as exc:
                if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                    raise FetchError(
                        f"no space left while writing {request.filename} to {final.parent}",
                        hint="free disk space, or set CONTAINERIZE_CACHE_DIR elsewhere",
                    ) from None
                raise _Unreachable(
                    FetchError(
                        f"download of {shown} broke off after {size} bytes: "
                        f"{redact_text(str(exc)) or type(exc).__name__}",
                        hint="retry; check the network or raise PIP_DEFAULT_TIMEOUT",
                    )
                ) from None
        actual = digest.hexdigest()
        if actual != request.sha256:
            raise FetchError(
                f"{request.filename}: hash mismatch for {shown}: expected sha256 "
                f"{request.sha256}, got {actual} ({size} bytes); the file was not kept",
                hint="the index served different bytes than were locked: check the index "
                "(or a proxy in between), or re-lock if the file was legitimately replaced",
            )
        # mkstemp creates 0600; the wheelhouse is copied into images, keep it readable.
        temp.chmod(0o644)
        os.replace(temp, final)
    except BaseException:
        # The (possibly empty) entry folder stays: removing it could race with another
        # process creating its own temporary file there.
        temp.unlink(missing_ok=True)
        raise
    logger.debug("%s: %d bytes, sha256 verified", request.filename, size)
    return size


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


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
