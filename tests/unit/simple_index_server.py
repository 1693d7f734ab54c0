"""A package index on 127.0.0.1 for the index and fetch tests, plus small real files.

The server serves whatever routes a test adds (PEP 503 HTML, PEP 691 JSON, files,
redirects, Basic-auth-protected prefixes) and records every request, so a test can
count what a run sent. It only ever listens on loopback.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import sys
import tarfile
import threading
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


@dataclass(frozen=True, kw_only=True)
class Route:
    """One answer: a body per content type (chosen by the request's Accept)."""

    bodies: Mapping[str, bytes]
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True, kw_only=True)
class Seen:
    """One request the server received."""

    path: str
    accept: str
    authorization: str | None


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that gave up (the timeout test) is expected; anything else is not.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class SimpleIndexServer:
    """A threading HTTP server on 127.0.0.1 with routes added by the test."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.protected: dict[str, tuple[str, str]] = {}
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, no trailing slash."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        return self.url.removeprefix("http://")

    def __enter__(self) -> SimpleIndexServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def add(
        self,
        path: str,
        body: bytes | str,
        *,
        content_type: str = "text/html",
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Serve *body* at *path*."""
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = Route(
            bodies={content_type: data}, status=status, headers=headers or {}, delay=delay
        )

    def add_negotiated(self, path: str, *, html_body: str, json_body: str) -> None:
        """Serve PEP 691 JSON to clients that ask for it, HTML to the others."""
        self.routes[path] = Route(
            bodies={JSON_TYPE: json_body.encode(), "text/html": html_body.encode()}
        )

    def redirect(self, path: str, location: str, *, status: int = 301) -> None:
        """Answer *path* with a redirect to *location*."""
        self.routes[path] = Route(bodies={}, status=status, headers={"Location": location})

    def protect(self, prefix: str, username: str, password: str) -> None:
        """Require these Basic credentials for every path under *prefix*."""
        self.protected[prefix] = (username, password)

    def requests_to(self, prefix: str = "/") -> list[Seen]:
        """The requests received so far under *prefix*."""
        with self._lock:
            return [seen for seen in self.seen if seen.path.startswith(prefix)]

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            head = False

            def do_HEAD(self) -> None:
                # Resolvers (uv) ask whether a wheel's server takes range requests.
                self.head = True
                self.do_GET()

            def do_GET(self) -> None:
                authorization = self.headers.get("Authorization")
                accept = self.headers.get("Accept", "")
                server._record(Seen(path=self.path, accept=accept, authorization=authorization))
                for prefix, (user, password) in server.protected.items():
                    if self.path.startswith(prefix):
                        token = base64.b64encode(f"{user}:{password}".encode()).decode()
                        if authorization != f"Basic {token}":
                            self._send(401, b"unauthorized", "text/plain", {})
                            return
                route = server.routes.get(self.path)
                if route is None:
                    self._send(404, b"not found", "text/plain", {})
                    return
                if route.delay:
                    server._release.wait(route.delay)
                content_type = "text/html"
                if JSON_TYPE in route.bodies and JSON_TYPE in accept:
                    content_type = JSON_TYPE
                elif route.bodies and content_type not in route.bodies:
                    content_type = next(iter(route.bodies))
                self._send(
                    route.status, route.bodies.get(content_type, b""), content_type, route.headers
                )

            def _send(
                self, status: int, body: bytes, content_type: str, headers: Mapping[str, str]
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if not self.head:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep pytest's output clean

        return Handler


def sha256_of(data: bytes) -> str:
    """The hex sha256 of *data*."""
    return hashlib.sha256(data).hexdigest()


def wheel_bytes(name: str, version: str) -> bytes:
    """A small but real pure-Python wheel."""
    buffer = io.BytesIO()
    dist_info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{name}/__init__.py", f"VERSION = {version!r}\n")
        archive.writestr(
            f"{dist_info}/METADATA",
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        )
        archive.writestr(
            f"{dist_info}/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        archive.writestr(f"{dist_info}/RECORD", "")
    return buffer.getvalue()


def sdist_bytes(name: str, version: str) -> bytes:
    """A small but real sdist (``.tar.gz``)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
        info = tarfile.TarInfo(f"{name}-{version}/PKG-INFO")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def html_page(links: Sequence[tuple[str, Mapping[str, str]]]) -> str:
    """A PEP 503 page: one anchor per (href, extra attributes); text = file name."""
    anchors = []
    for href, attrs in links:
        text = href.split("#")[0].rsplit("/", 1)[-1]
        extra = "".join(f' {key}="{html.escape(value)}"' for key, value in attrs.items())
        anchors.append(f'<a href="{html.escape(href)}"{extra}>{html.escape(text)}</a><br/>')
    body = "\n".join(anchors)
    return f"<!DOCTYPE html>\n<html><body>\n{body}\n</body></html>\n"


def write_file(folder: Path, filename: str, data: bytes) -> Path:
    """Write *data* to *folder*/*filename* and return the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    path.write_bytes(data)
    return path


def publish(
    server: SimpleIndexServer,
    project: str,
    files: Mapping[str, bytes],
    *,
    index: str = "/simple/",
    store: str = "/files/",
    served: Mapping[str, bytes] | None = None,
) -> dict[str, str]:
    """Publish *files* of *project* on an HTML index at *index*, with relative links.

    *served* replaces the bytes actually served for some files (a tampered mirror):
    the page still advertises the hash of the bytes in *files*. Returns the hashes.
    """
    hashes = {filename: sha256_of(data) for filename, data in files.items()}
    up = "../" * (len(index.strip("/").split("/")) + 1)  # from the project page to "/"
    links: list[tuple[str, Mapping[str, str]]] = [
        (f"{up}{store.lstrip('/')}{filename}#sha256={hashes[filename]}", {}) for filename in files
    ]
    server.add(f"{index}{project}/", html_page(links))
    for filename, data in files.items():
        server.add(
            f"{store}{filename}",
            (served or {}).get(filename, data),
            content_type="application/octet-stream",
        )
    return hashes
