"""The HTTP client for indexes and find-links: project pages and file downloads.

:class:`IndexClient` reads project pages from the sources of an
:class:`~containerize.resolve.pipconfig.IndexSettings` (PEP 691 JSON when offered, PEP
503 HTML otherwise, ``file://`` indexes and find-links folders too) and opens
downloads with the right credentials, from netrc or the configured URLs.

It also runs the work of a fetch in parallel (:meth:`IndexClient.map`) in a way that
stops at once: the caller waits in a way a signal interrupts, the workers are daemon
threads that never hold the process up, and :meth:`IndexClient.cancel` shuts the
connections being read, so a blocked read returns instead of waiting for a stalled
index.
"""

from __future__ import annotations

import collections
import functools
import http.client
import logging
import netrc
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any, TypeVar

from packaging.utils import (
    NormalizedName,
    canonicalize_name,
)

from containerize import __version__
from containerize.errors import ConfigError, FetchError
from containerize.resolve.pipconfig import (
    Credentials,
    FindLinks,
    IndexSettings,
    IndexSource,
    file_path,
    redact_text,
    redact_url,
    split_credentials,
)
from containerize.resolve.simple import (
    ACCEPT,
    JSON_TYPE,
    IndexFile,
    parse_html_page,
    parse_json_page,
    project_of,
)

logger = logging.getLogger(__name__)

_USER_AGENT = f"containerize/{__version__}"
#: How long an interrupted :meth:`IndexClient.map` waits for its workers to let go.
CANCEL_GRACE = 0.3

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


class Cancelled(Exception):
    """The client was cancelled: no new request is sent."""


# --------------------------------------------------------------------------- client


class _AuthHandler(urllib.request.BaseHandler):
    """Adds Basic auth per request host, redirects included, never across hosts."""

    handler_order = 400  # before the HTTP handlers send the request

    def __init__(self, lookup: Any) -> None:
        self._lookup = lookup

    def http_request(self, request: urllib.request.Request) -> urllib.request.Request:
        # An "unredirected" header is not copied when urllib follows a redirect, so a
        # redirect to another host never carries these credentials along.
        credentials = self._lookup(request.full_url)
        if credentials is not None:
            request.add_unredirected_header("Authorization", credentials.header())
        return request

    https_request = http_request


@functools.lru_cache(maxsize=8)
def _tls_context(cafile: str | None) -> ssl.SSLContext:
    """One TLS context per CA bundle for the process: loading a bundle takes ~50 ms,
    and a build makes a client per fetch step (a failure is not cached)."""
    return ssl.create_default_context(cafile=cafile)


def _ca_bundle_error(cert: Path | None, reason: str) -> ConfigError:
    return ConfigError(
        f"cannot load the CA bundle {cert}: {reason}",
        hint="fix cert in pip.conf (or PIP_CERT), or remove it to use the system's",
    )


class IndexClient:
    """Reads project pages and opens downloads for one :class:`IndexSettings`.

    Project pages are remembered for the client's lifetime, so one client per fetch
    run reads each page once. Safe to share between threads.
    """

    def __init__(self, settings: IndexSettings) -> None:
        self.settings = settings
        self._netrc = _load_netrc(settings.netrc)
        self._credentials: dict[tuple[str, int | None], Credentials] = {}
        sources: tuple[IndexSource | FindLinks, ...] = (*settings.indexes, *settings.find_links)
        for source in sources:
            if source.credentials is not None:
                self._credentials.setdefault(_host_key(source.url), source.credentials)
        if settings.cert is not None and not settings.cert.is_file():
            raise _ca_bundle_error(settings.cert, "no such file")
        self._opener_made: urllib.request.OpenerDirector | None = None
        self._lock = threading.Lock()
        self._pages: dict[tuple[str, str], tuple[threading.Lock, list[list[IndexFile]]]] = {}
        self._cancelled = threading.Event()
        self._reading: set[Any] = set()  # responses being read, shut on cancel()

    @property
    def _opener(self) -> urllib.request.OpenerDirector:
        """Made at the first request: a build whose files are all in the cache sends
        none, and loading a CA bundle takes ~50 ms."""
        with self._lock:
            if self._opener_made is None:
                cert = self.settings.cert
                try:
                    context = _tls_context(str(cert) if cert is not None else None)
                except (OSError, ssl.SSLError) as exc:
                    raise _ca_bundle_error(cert, str(exc.strerror or exc)) from None
                self._opener_made = urllib.request.build_opener(
                    urllib.request.HTTPSHandler(context=context),
                    _AuthHandler(self.credentials_for),
                )
            return self._opener_made

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._cancelled.is_set()

    def cancel(self) -> None:
        """Send no new request, and shut the connections being read.

        A thread blocked reading a response then gets an end of file or an error at
        once; one still connecting is left to its timeout (it is a daemon thread).
        """
        with self._lock:
            self._cancelled.set()
            responses = list(self._reading)
        for response in responses:
            _shut(response)

    def map(
        self,
        work: Callable[[_Item], _Result],
        items: Iterable[_Item],
        *,
        jobs: int,
        on_cancel: Callable[[], object] | None = None,
    ) -> list[_Result]:
        """``work(item)`` for every item, *jobs* at a time; the results in item order.

        If *work* raises, the first failure in item order is raised once every item
        is done. If the waiting thread is interrupted (a signal, in the main thread),
        *on_cancel* runs, the client is cancelled, the workers get a short grace to let
        go, and the interruption goes on: nothing waits for a stalled connection.
        """
        pending = collections.deque(enumerate(items))
        count = len(pending)
        results: list[Any] = [None] * count
        failures: list[BaseException | None] = [None] * count
        queue_lock = threading.Lock()

        def worker() -> None:
            while not self.cancelled:
                with queue_lock:
                    if not pending:
                        return
                    position, item = pending.popleft()
                try:
                    results[position] = work(item)
                except BaseException as exc:  # handed to the waiting thread
                    failures[position] = exc

        threads = [
            threading.Thread(target=worker, name=f"containerize-fetch-{n}", daemon=True)
            for n in range(max(1, min(jobs, count)))
        ]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.2)
        except BaseException:
            if on_cancel is not None:
                on_cancel()
            self.cancel()
            deadline = time.monotonic() + CANCEL_GRACE
            for thread in threads:
                if thread.ident is not None:
                    thread.join(max(0.0, deadline - time.monotonic()))
            raise
        for failure in failures:
            if failure is not None:
                raise failure
        return results

    def credentials_for(self, url: str) -> Credentials | None:
        """Credentials for *url*: from a configured URL on that host, else netrc."""
        found = self._credentials.get(_host_key(url))
        if found is not None:
            return found
        host = urllib.parse.urlsplit(url).hostname
        if self._netrc is None or host is None:
            return None
        entry = self._netrc.authenticators(host)
        if entry is None:
            return None
        login, _, password = entry
        return Credentials(username=login, password=password or "")

    def project_files(self, source: IndexSource | FindLinks, name: str) -> list[IndexFile]:
        """The files of project *name* at *source*; empty if the project is not there.

        Raises :class:`FetchError` when the source cannot be read (HTTP errors other
        than 404/410, timeouts, refused connections, malformed pages).
        """
        project = canonicalize_name(name)
        key = (source.url, project)
        with self._lock:
            slot = self._pages.setdefault(key, (threading.Lock(), []))
        page_lock, memo = slot
        with page_lock:
            if not memo:
                memo.append(self._read_project_files(source, project))
            return list(memo[0])

    def _read_project_files(
        self, source: IndexSource | FindLinks, project: NormalizedName
    ) -> list[IndexFile]:
        if isinstance(source, IndexSource):
            return self._index_page(source, project)
        path = source.path
        if path is not None and path.is_dir():
            files = _folder_files(path)
        elif path is not None:
            files = parse_html_page(_read_local(path, source.origin), source.url)
        else:
            files = self._find_links_page(source)
        return [f for f in files if project_of(f.filename) == project]

    def _index_page(self, index: IndexSource, project: NormalizedName) -> list[IndexFile]:
        # Tolerate an IndexSource built by hand without the trailing slash.
        page_url = urllib.parse.urljoin(index.url.rstrip("/") + "/", f"{project}/")
        folder = file_path(page_url)
        if folder is not None:
            # pip reads index.html from a file:// project folder; a bare folder of files
            # is accepted too.
            if (folder / "index.html").is_file():
                page = folder / "index.html"
                return parse_html_page(_read_local(page, index.origin), page.as_uri())
            return _folder_files(folder) if folder.is_dir() else []
        logger.debug("reading %s", page_url)
        result = self._get(page_url, accept=ACCEPT, origin=index.origin)
        if result is None:
            logger.debug("%s is not on %s", project, page_url)
            return []
        final_url, content_type, charset, body = result
        if content_type == JSON_TYPE:
            return parse_json_page(body, final_url)
        return parse_html_page(body.decode(charset or "utf-8", "replace"), final_url)

    def _find_links_page(self, source: FindLinks) -> list[IndexFile]:
        with self._lock:
            slot = self._pages.setdefault((source.url, ""), (threading.Lock(), []))
        page_lock, memo = slot
        with page_lock:
            if not memo:
                result = self._get(source.url, accept="text/html", origin=source.origin)
                if result is None:
                    logger.warning("find-links %s from %s was not found", source.url, source.origin)
                    memo.append([])
                else:
                    final_url, _, charset, body = result
                    memo.append(
                        parse_html_page(body.decode(charset or "utf-8", "replace"), final_url)
                    )
            return memo[0]

    def _get(
        self, url: str, *, accept: str, origin: str
    ) -> tuple[str, str, str | None, bytes] | None:
        """GET a page: (final URL, content type, charset, body), or None on 404/410."""
        try:
            with self._open_http(url, accept=accept) as response:
                return (
                    response.geturl(),
                    response.headers.get_content_type(),
                    response.headers.get_content_charset(),
                    response.read(),
                )
        except _NotFound:
            return None
        except TimeoutError:
            raise self._timeout_error(url, origin) from None
        except (OSError, http.client.HTTPException) as exc:
            raise self._network_error(url, origin, exc) from None

    @contextmanager
    def open(self, url: str) -> Iterator[IO[bytes]]:
        """Open a file download for streaming; ``file://`` URLs are opened directly.

        Raises :class:`FetchError` (404 included); errors while reading the stream are
        :class:`OSError` and left to the caller, which knows what it was writing.
        """
        bare, credentials = split_credentials(url)
        path = file_path(bare)
        if path is not None:
            try:
                stream: IO[bytes] = path.open("rb")
            except OSError as exc:
                raise FetchError(
                    f"cannot read {path}: {exc.strerror}",
                    hint="check that the folder in your pip configuration still has the file",
                ) from None
            with stream:
                yield stream
            return
        if credentials is not None:
            with self._lock:
                self._credentials.setdefault(_host_key(bare), credentials)
        with ExitStack() as stack:
            try:
                response = stack.enter_context(self._open_http(bare, accept="*/*"))
            except _NotFound:
                raise FetchError(
                    f"{redact_url(bare)} answered 404 Not Found",
                    hint="the file has gone from that index; re-lock, or configure an index "
                    "that has it",
                ) from None
            except TimeoutError:
                raise self._timeout_error(bare, "the download URL") from None
            except (OSError, http.client.HTTPException) as exc:
                raise self._network_error(bare, "the download URL", exc) from None
            yield response

    @contextmanager
    def _open_http(self, url: str, *, accept: str) -> Iterator[Any]:
        if self.cancelled:
            raise Cancelled(url)
        request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
            url, headers={"Accept": accept, "User-Agent": _USER_AGENT}
        )
        try:
            response = self._opener.open(request, timeout=self.settings.timeout)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code in (404, 410):
                raise _NotFound from None
            raise
        with response:
            with self._lock:
                if self.cancelled:
                    raise Cancelled(url)
                self._reading.add(response)
            try:
                yield response
            finally:
                with self._lock:
                    self._reading.discard(response)

    def _timeout_error(self, url: str, origin: str) -> FetchError:
        return FetchError(
            f"{redact_url(url)} did not answer within {self.settings.timeout:g}s "
            f"(configured in {origin})",
            hint="check the network or proxy settings, or raise PIP_DEFAULT_TIMEOUT",
        )

    def _network_error(
        self, url: str, origin: str, exc: OSError | http.client.HTTPException
    ) -> FetchError:
        shown = redact_url(url)
        if isinstance(exc, urllib.error.HTTPError):
            if exc.code in (401, 403):
                host = urllib.parse.urlsplit(url).hostname
                return FetchError(
                    f"{shown} answered {exc.code} {exc.reason}: access denied "
                    f"(configured in {origin})",
                    hint=f"give credentials for {host} in ~/.netrc (machine {host}) or in "
                    "the index URL, and check they are still valid",
                )
            return FetchError(
                f"{shown} answered HTTP {exc.code} {exc.reason} (configured in {origin})",
                hint="the index may be down or the URL wrong; retry later or fix it",
            )
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, TimeoutError):
            return self._timeout_error(url, origin)
        if isinstance(reason, ssl.SSLError):
            return FetchError(
                f"TLS failed for {shown}: {redact_text(str(reason))}",
                hint="set cert in pip.conf (or PIP_CERT) to the CA bundle that signs the "
                "index's certificate",
            )
        return FetchError(
            f"cannot reach {shown} (configured in {origin}): {redact_text(str(reason))}",
            hint="check the URL, the network and proxy settings (https_proxy, no_proxy)",
        )


class _NotFound(Exception):
    """404 or 410: the project or file is not on this index."""


def _shut(response: Any) -> None:
    """Shut down the connection under *response*, waking a thread blocked reading it."""
    try:
        fd = response.fileno()
        # A duplicate of the descriptor: shutting it down ends the connection for the
        # reader too, and closing it leaves the reader's descriptor alone.
        with socket.fromfd(fd, socket.AF_INET, socket.SOCK_STREAM) as duplicate:
            duplicate.shutdown(socket.SHUT_RDWR)
    except (OSError, ValueError, AttributeError):
        pass  # already closed


def _host_key(url: str) -> tuple[str, int | None]:
    parts = urllib.parse.urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    try:
        port = parts.port or default
    except ValueError:
        port = default
    return (parts.hostname or "", port)


def _load_netrc(path: Path | None) -> netrc.netrc | None:
    if path is None or not path.is_file():
        return None
    try:
        return netrc.netrc(str(path))
    except netrc.NetrcParseError as exc:
        # The parser's message can quote a password: show only where it went wrong.
        raise ConfigError(
            f"cannot parse {path} near line {exc.lineno}",
            hint="fix the netrc file, or point NETRC at another one",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None


def _read_local(path: Path, origin: str) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise FetchError(
            f"cannot read {path} (configured in {origin}): {exc.strerror}",
            hint="fix or remove that entry in your pip configuration",
        ) from None


def _folder_files(folder: Path) -> list[IndexFile]:
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise FetchError(
            f"cannot list {folder}: {exc.strerror}",
            hint="fix or remove that find-links entry in your pip configuration",
        ) from None
    # No hash is recorded in a folder: the downloader hashes the file as it copies it.
    return [
        IndexFile(filename=entry.name, url=entry.absolute().as_uri(), sha256=None)
        for entry in entries
        if entry.is_file()
    ]
