"""Why a downloaded file's hash is not the lock's, told to the user.

:class:`HashMismatchError` explains a mismatch: a download cut short (retried once by
the downloader), a file that changed on the index since the lock was written, or bytes
changed in transit. :class:`FetchErrors` gathers the failures of one fetch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from containerize.errors import ContainerizeError, FetchError

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
