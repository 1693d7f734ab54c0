"""The access log the WSGI entry point writes, the same on every server."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest

from containerize import servers
from containerize.runtime import containerize_accesslog as accesslog
from containerize.runtime import containerize_start as start
from containerize.runtime import containerize_workers, containerize_wsgi
from containerize.servers.base import Runtime

ENVIRON = {
    "REQUEST_METHOD": "GET",
    "SCRIPT_NAME": "",
    "PATH_INFO": "/notes/caf\xc3\xa9 x",  # 'café x' as a server hands it over (latin-1)
    "QUERY_STRING": "token=secret",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "203.0.113.9",
}
COMMON = re.compile(
    r"^203\.0\.113\.9 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000\] "
    r'"GET /notes/caf%C3%A9%20x HTTP/1\.1" (\d{3}) (\d+) (\d+\.\d{3})ms$'
)


@pytest.fixture
def stdout() -> Iterator[tuple[int, int]]:
    read, write = os.pipe()
    yield read, write
    os.close(read)
    os.close(write)


def _lines(read: int) -> list[str]:
    os.set_blocking(read, False)
    try:
        return os.read(read, 65536).decode().splitlines()
    except BlockingIOError:
        return []


def _app(body: list[bytes], status: str = "200 OK", length: bool = True) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        headers = [("Content-Length", str(sum(map(len, body))))] if length else []
        start_response(status, headers)
        return body

    return app


def _serve(app: Any, environ: dict[str, Any] | None = None) -> bytes:
    """What a server does: call, iterate, close."""
    result = app(dict(environ or ENVIRON), lambda status, headers, exc_info=None: None)
    try:
        return b"".join(result)
    finally:
        result.close()


def test_a_common_line_has_every_field(stdout: tuple[int, int]) -> None:
    read, write = stdout
    app = accesslog.AccessLog(_app([b"Hello ", b"World!"], "201 Created"), "common", fd=write)
    assert _serve(app) == b"Hello World!"
    (line,) = _lines(read)
    match = COMMON.match(line)
    assert match, line
    assert match[1] == "201"
    assert match[2] == "12"
    assert "secret" not in line  # no query string


def test_a_json_line_has_the_same_fields(stdout: tuple[int, int]) -> None:
    read, write = stdout
    app = accesslog.AccessLog(_app([b"x" * 300], length=False), "json", fd=write)
    _serve(app)
    (line,) = _lines(read)
    record = json.loads(line)
    assert set(record) == {
        "time", "remote_addr", "method", "path", "protocol", "status", "bytes", "duration_ms",
    }  # fmt: skip
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["time"])
    assert (record["remote_addr"], record["method"], record["path"]) == (
        "203.0.113.9", "GET", "/notes/caf%C3%A9%20x",
    )  # fmt: skip
    assert (record["status"], record["bytes"]) == (200, 300)
    assert isinstance(record["duration_ms"], float)


def test_the_line_is_written_when_the_body_has_been_sent(stdout: tuple[int, int]) -> None:
    read, write = stdout
    app = accesslog.AccessLog(_app([b"a", b"b"]), "common", fd=write)
    result = app(dict(ENVIRON), lambda *args: None)
    assert list(result) == [b"a", b"b"]
    assert _lines(read) == []
    result.close()
    assert len(_lines(read)) == 1


def test_a_failing_app_is_logged_as_500_and_the_error_goes_on(stdout: tuple[int, int]) -> None:
    read, write = stdout

    def broken(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise RuntimeError("boom")

    app = accesslog.AccessLog(broken, "common", fd=write)
    with pytest.raises(RuntimeError):
        app(dict(ENVIRON), lambda *args: None)
    (line,) = _lines(read)
    match = COMMON.match(line)
    assert match, line
    assert match.group(1, 2) == ("500", "0")


def test_a_hostile_method_cannot_break_the_line(stdout: tuple[int, int]) -> None:
    read, write = stdout
    app = accesslog.AccessLog(_app([b""]), "common", fd=write)
    _serve(app, {**ENVIRON, "REQUEST_METHOD": 'G"ET \n', "REMOTE_ADDR": "a b"})
    (line,) = _lines(read)
    assert line.count('"') == 2, line
    assert line.startswith("a\\x20b - - ["), line


class FileWrapper:
    """As a server's wsgi.file_wrapper: it is handed back whole, for sendfile()."""

    def __init__(self, filelike: Any) -> None:
        self.filelike = filelike
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield self.filelike

    def close(self) -> None:
        self.closed = True


def test_a_file_wrapper_is_left_whole_and_logged_at_close(stdout: tuple[int, int]) -> None:
    read, write = stdout
    wrapper = FileWrapper(b"0123456789")

    def files(environ: dict[str, Any], start_response: Any) -> FileWrapper:
        start_response("200 OK", [("Content-Length", "10")])
        return wrapper

    app = accesslog.AccessLog(files, "common", fd=write)
    result = app(dict(ENVIRON), lambda *args: None)
    assert result is wrapper
    result.close()
    assert wrapper.closed
    (line,) = _lines(read)
    match = COMMON.match(line)
    assert match, line
    assert match.group(1, 2) == ("200", "10")


def test_the_format_comes_from_the_environment_first() -> None:
    assert accesslog.configured("common", {}) == "common"
    assert accesslog.configured("common", {"WSGI_ACCESS_LOG": "JSON"}) == "json"
    with pytest.raises(
        containerize_workers.StartError, match="WSGI_ACCESS_LOG: 'apache' is not an access log"
    ):
        start.access_log({"access_log": "common"}, {"WSGI_ACCESS_LOG": "apache"})


def test_off_puts_no_layer_in_front_of_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app([b"x"])
    monkeypatch.setattr(containerize_wsgi, "load_app", lambda spec, app_dir: app)
    spec = {"app": {}, "app_dir": "/app", "allowed_hosts": ["*"], "access_log": "off"}
    built = containerize_wsgi.build(spec, {})
    assert built.app is app  # type: ignore[attr-defined]  # only the proxies' rule
    logged = containerize_wsgi.build(spec, {"WSGI_ACCESS_LOG": "json"})
    assert isinstance(logged.app, accesslog.AccessLog)  # type: ignore[attr-defined]


RUNTIME = Runtime(
    python="/usr/bin/python3", python_version=(3, 11), venv="/opt/venv", app_dir="/app", port=8000
)


@pytest.mark.parametrize("name", servers.names())
def test_no_server_writes_an_access_log_of_its_own(name: str) -> None:
    command = servers.get(name).command(RUNTIME)
    assert "--access-logfile" not in command  # Gunicorn
    assert "--access-log" not in command  # mod_wsgi-express
    assert ("--disable-logging" in command) == (name == "uwsgi")
