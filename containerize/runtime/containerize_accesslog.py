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
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote

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


def common_line(fields: Mapping[str, Any]) -> str:
    t = time.gmtime(fields["time"])
    when = (
        f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )
    return (
        f'{fields["remote_addr"]} - - [{when}] "{fields["method"]} {fields["path"]} '
        f'{fields["protocol"]}" {fields["status"]} {fields["bytes"]} '
        f"{fields['duration_ms']:.3f}ms"
    )


def json_line(fields: Mapping[str, Any]) -> str:
    seconds = fields["time"]
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    millis = int(seconds * 1000) % 1000
    record = {**fields, "time": f"{stamp}.{millis:03d}Z", "duration_ms": fields["duration_ms"]}
    return json.dumps(record, separators=(", ", ": "))


_LINES: dict[str, Callable[[Mapping[str, Any]], str]] = {"common": common_line, "json": json_line}


def _text(value: object) -> str:
    """A request value as printable ASCII: anything else escaped."""
    text = str(value)
    if text.isascii() and text.isprintable() and '"' not in text and " " not in text:
        return text
    return text.encode("unicode_escape").decode("ascii").replace('"', "\\x22").replace(" ", "\\x20")


class AccessLog:
    """WSGI middleware that writes one line per response in *format*."""

    def __init__(self, app: Callable[..., Iterable[bytes]], format: str, fd: int = 1) -> None:
        self.app = app
        self.line = _LINES[format]
        self.fd = fd

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        began, clock = time.time(), time.perf_counter()
        status = ["500"]
        length = [-1]

        def start(status_line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = status_line[:3]
            for name, value in headers:
                if name.lower() == "content-length" and value.isdigit():
                    length[0] = int(value)
            return start_response(status_line, headers, exc_info)

        def done(sent: int) -> None:
            path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
            fields = {
                "time": began,
                "remote_addr": _text(environ.get("REMOTE_ADDR") or "-"),
                "method": _text(environ.get("REQUEST_METHOD", "-")),
                "path": quote(path.encode("latin-1", "replace"), safe=_PATH_SAFE) or "/",
                "protocol": _text(environ.get("SERVER_PROTOCOL", "-")),
                "status": int(status[0]) if status[0].isdigit() else 0,
                "bytes": sent,
                "duration_ms": round((time.perf_counter() - clock) * 1000, 3),
            }
            # A closed or full stdout must not fail the request.
            with contextlib.suppress(OSError):
                os.write(self.fd, (self.line(fields) + "\n").encode("utf-8", "replace"))

        try:
            result = self.app(environ, start)
        except BaseException:
            done(0)
            raise
        if length[0] >= 0 and hasattr(result, "filelike") and _on_close(result, done, length[0]):
            return result  # the server's file wrapper, left whole so it can sendfile()
        return _Body(result, done)


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
