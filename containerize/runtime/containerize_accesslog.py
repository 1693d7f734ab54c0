"""The access log: one line per response on stdout, the same fields on every server.

``access-log`` (``WSGI_ACCESS_LOG`` at run time) is ``common``, ``json`` or ``off``. The
WSGI entry point writes the lines, and each server's own access log is off, so the
fields and their format do not depend on the server:

``common``  ``203.0.113.9 - - [07/Dec/2026:08:44:24 +0000] "GET /notes HTTP/1.1" 200 512 1.234ms``
            (the Common Log Format, with the duration after it)
``json``    ``{"time": "2026-12-07T08:44:24.123Z", "remote_addr": "203.0.113.9",
            "method": "GET", "path": "/notes", "protocol": "HTTP/1.1", "status": 200,
            "bytes": 512, "duration_ms": 1.234}`` on one line

- time: when the request reached the application, in UTC;
- remote address: ``REMOTE_ADDR`` as the application sees it, after the trusted
  proxies' rule (``containerize_proxies.py``);
- path: percent-encoded as it came, without the query string (query strings carry
  tokens);
- bytes: of the body sent; duration: from the request reaching the application to its
  body's end (or the client going away).

A request the application fails on before it answers is logged with status 500, as
every server answers it. Files a server serves from the static folder itself (uWSGI's
static map, Apache's alias) never reach the entry point and are not logged.

Each line is written with one ``write`` to file descriptor 1, so lines from several
threads and processes do not interleave. The servers' own messages and errors go to
stderr.

This file runs in the image: standard library only, no containerize imports.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

#: The run-time override.
VARIABLE = "WSGI_ACCESS_LOG"
FORMATS = ("common", "json", "off")

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Characters a path keeps as they are; everything else is percent-encoded, so a line
# never holds a quote, a space or a control character from the request.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


class AccessLogError(ValueError):
    """A format that is not one of :data:`FORMATS`."""


def configured(image: str, environ: Mapping[str, str]) -> str:
    """``WSGI_ACCESS_LOG`` when set, else the image's format."""
    text = environ.get(VARIABLE, "").strip()
    where = VARIABLE if text else "access-log"
    value = (text or image).lower()
    if value not in FORMATS:
        raise AccessLogError(
            f"{where}: {text or image!r} is not an access log format; "
            f"write one of {', '.join(FORMATS)}"
        )
    return value


class Fields(NamedTuple):
    """One response, as both formats write it."""

    time: float  # seconds since the epoch
    remote_addr: str
    method: str
    path: str
    protocol: str
    status: int
    bytes: int
    duration_ms: float


_last_second: list[Any] = [None, ""]


def _clf_time(seconds: float) -> str:
    """'07/Dec/2026:08:44:24 +0000', made once a second (a busy server logs many a second)."""
    whole = int(seconds)
    if _last_second[0] != whole:
        t = time.gmtime(whole)
        _last_second[:] = [
            whole,
            f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000",
        ]
    return str(_last_second[1])


def common_line(f: Fields) -> str:
    return (
        f'{f.remote_addr} - - [{_clf_time(f.time)}] "{f.method} {f.path} {f.protocol}" '
        f"{f.status} {f.bytes} {f.duration_ms:.3f}ms"
    )


def json_line(f: Fields) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(f.time))
    record = {**f._asdict(), "time": f"{stamp}.{int(f.time * 1000) % 1000:03d}Z"}
    return json.dumps(record, separators=(", ", ": "))


_LINES: dict[str, Callable[[Fields], str]] = {"common": common_line, "json": json_line}
# What needs no escaping: printable ASCII without space or '"' (a request line's words
# always are, unless someone sends a hostile one).
_PLAIN = re.compile(r"[!#-~]*")
_PLAIN_PATH = re.compile(r"[A-Za-z0-9/:@!$&'()*+,;=._~-]*")


def _text(value: str) -> str:
    """A request value as printable ASCII: anything else escaped."""
    if _PLAIN.fullmatch(value):
        return value
    return (
        value.encode("unicode_escape").decode("ascii").replace('"', "\\x22").replace(" ", "\\x20")
    )


def _path(environ: Mapping[str, Any]) -> str:
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    if _PLAIN_PATH.fullmatch(path):
        return path or "/"
    from urllib.parse import quote  # here: start.py and most paths do without it

    return quote(path.encode("latin-1", "replace"), safe=_PATH_SAFE) or "/"


class AccessLog:
    """WSGI middleware that writes one line per response in *format*."""

    def __init__(self, app: Callable[..., Iterable[bytes]], format: str, fd: int = 1) -> None:
        self.app = app
        self.line = _LINES[format]
        self.fd = fd

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        response = _Response(self, environ, start_response)
        try:
            result = self.app(environ, response.start)
        except BaseException:
            response.done(0)
            raise
        if (
            response.length >= 0
            and hasattr(result, "filelike")
            and _on_close(result, response.done, response.length)
        ):
            return result  # the server's file wrapper, left whole so it can sendfile()
        return _Body(result, response.done)

    def write(self, fields: Fields) -> None:
        # A closed or full stdout must not fail the request.
        with contextlib.suppress(OSError):
            os.write(self.fd, (self.line(fields) + "\n").encode("utf-8", "replace"))


class _Response:
    """One request's status and length as the application starts its response."""

    __slots__ = ("began", "clock", "environ", "length", "log", "start_response", "status")

    def __init__(
        self, log: AccessLog, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> None:
        self.log = log
        self.environ = environ
        self.start_response = start_response
        self.began = time.time()
        self.clock = time.perf_counter()
        self.status = 500
        self.length = -1

    def start(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        code = status[:3]
        self.status = int(code) if code.isdigit() else 0
        for name, value in headers:
            if len(name) == 14 and name.lower() == "content-length" and value.isdigit():
                self.length = int(value)
        return self.start_response(status, headers, exc_info)

    def done(self, sent: int) -> None:
        environ = self.environ
        self.log.write(
            Fields(
                time=self.began,
                remote_addr=_text(environ.get("REMOTE_ADDR") or "-"),
                method=_text(environ.get("REQUEST_METHOD") or "-"),
                path=_path(environ),
                protocol=_text(environ.get("SERVER_PROTOCOL") or "-"),
                status=self.status,
                bytes=sent,
                duration_ms=round((time.perf_counter() - self.clock) * 1000, 3),
            )
        )


def _on_close(result: Any, done: Callable[[int], None], length: int) -> bool:
    """Make closing *result* (a ``wsgi.file_wrapper``) log it; False if it cannot be."""
    close = getattr(result, "close", None)

    def logged_close() -> None:
        try:
            if close is not None:
                close()
        finally:
            done(length)

    try:
        result.close = logged_close
    except AttributeError:
        return False
    return True


class _Body:
    """The application's body, counted as the server sends it; logged when closed."""

    def __init__(self, result: Iterable[bytes], done: Callable[[int], None]) -> None:
        self.result = result
        self.done = done
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.result:
            self.sent += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()
        finally:
            self.done(self.sent)
