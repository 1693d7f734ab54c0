"""The files that run inside the images: the entrypoint and the WSGI entry point.

They are plain modules, so they are tested here by importing them; the integration
tests run them for real, in every server's image.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from containerize.runtime import containerize_wsgi, start
from containerize.servers.base import HASHED_NAME_RE


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


# --- CPUs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu.max": "50000 100000\n"}, 0.5),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2.0),
        (
            {"cpu,cpuacct/cpu.cfs_quota_us": "300000", "cpu,cpuacct/cpu.cfs_period_us": "100000"},
            3.0,
        ),
        ({"cpu.max": "garbage"}, None),
        ({}, None),
    ],
    ids=["v2-none", "v2-1.5", "v2-0.5", "v1-none", "v1-2", "v1-cpuacct", "v2-garbage", "none"],
)
def test_cgroup_cpu_limit(tmp_path: Path, files: dict[str, str], expected: float | None) -> None:
    assert start.cgroup_cpu_limit(str(write(tmp_path, files))) == expected


def test_available_cpus_rounds_the_quota_up_and_never_exceeds_the_cpuset(tmp_path: Path) -> None:
    affinity = len(os.sched_getaffinity(0))
    write(tmp_path, {"cpu.max": "50000 100000"})
    assert start.available_cpus(str(tmp_path)) == 1
    write(tmp_path, {"cpu.max": f"{(affinity + 5) * 100000} 100000"})
    assert start.available_cpus(str(tmp_path)) == affinity


# --- settings -----------------------------------------------------------------------

SPEC: dict[str, Any] = {
    "server": "gunicorn",
    "settings": {"workers": None, "threads": 1, "timeout": 30, "keepalive": 5, "grace_period": 8},
    "argv": ["gunicorn", "--workers", "{workers}", "--bind", "0.0.0.0:8000", "x{threads}y"],
}


def test_workers_default_to_twice_the_cpus_plus_one() -> None:
    values = start.settings(SPEC, {}, cpus=2)
    assert values["workers"] == 5
    assert start.server_argv(SPEC, values) == [
        "gunicorn", "--workers", "5", "--bind", "0.0.0.0:8000", "x1y",
    ]  # fmt: skip


def test_environment_wins_over_the_image_defaults() -> None:
    environ = {"WSGI_WORKERS": "7", "WSGI_THREADS": "3", "WSGI_GRACE_PERIOD": "20"}
    values = start.settings(SPEC, environ, cpus=2)
    assert (values["workers"], values["threads"], values["grace_period"]) == (7, 3, 20)
    assert values["concurrency"] == 21


def test_a_configured_worker_count_wins_over_the_cpus() -> None:
    spec = {**SPEC, "settings": {**SPEC["settings"], "workers": 4}}
    assert start.settings(spec, {}, cpus=8)["workers"] == 4


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", "99999", "2 workers"])
def test_a_bad_setting_is_refused_by_name(value: str) -> None:
    with pytest.raises(start.StartError, match=f"WSGI_WORKERS='{value}' is not a whole number"):
        start.settings(SPEC, {"WSGI_WORKERS": value}, cpus=2)


# --- hooks --------------------------------------------------------------------------


def test_parse_services() -> None:
    assert start.parse_services("db:5432, cache:6379 [::1]:80") == [
        ("db", 5432),
        ("cache", 6379),
        ("::1", 80),
    ]
    assert start.parse_services("") == []


@pytest.mark.parametrize("text", ["db", "db:", ":80", "db:99999", "db:http"])
def test_parse_services_refuses_what_is_not_host_port(text: str) -> None:
    with pytest.raises(start.StartError, match="is not 'host:port'"):
        start.parse_services(text)


@pytest.fixture
def listener() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                conn.close()
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def test_wait_for_returns_once_the_service_answers(listener: int) -> None:
    start.wait_for([("127.0.0.1", listener)], timeout=5)


def test_wait_for_gives_up_after_the_timeout_with_the_last_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(start.StartError, match=rf"127.0.0.1:{port} did not accept") as info:
        start.wait_for([("127.0.0.1", port)], timeout=0.6)
    assert "WSGI_WAIT_TIMEOUT" in str(info.value)
    assert info.value.code == 1


def test_prestart_commands_are_split_like_a_shell_but_run_without_one() -> None:
    text = "python manage.py migrate --noinput\n\n# a comment\necho 'two words' $HOME\n"
    assert start.parse_commands(text) == [
        ["python", "manage.py", "migrate", "--noinput"],
        ["echo", "two words", "$HOME"],
    ]
    with pytest.raises(start.StartError, match="WSGI_PRESTART line 1"):
        start.parse_commands("echo 'unclosed")


def test_a_failing_prestart_command_stops_the_start_with_its_code(tmp_path: Path) -> None:
    start.run_commands([["true"]], cwd=str(tmp_path))
    with pytest.raises(start.StartError, match="failed with exit code 3") as info:
        start.run_commands([["sh", "-c", "exit 3"], ["true"]], cwd=str(tmp_path))
    assert info.value.code == 3
    with pytest.raises(start.StartError, match="cannot run no-such-command") as missing:
        start.run_commands([["no-such-command"]], cwd=str(tmp_path))
    assert missing.value.code == 127


# --- the WSGI entry point: application types ---------------------------------------


def call(app: Any, path: str = "/", host: str = "localhost") -> tuple[str, bytes]:
    status: list[str] = []
    body = b"".join(
        app(
            {"PATH_INFO": path, "HTTP_HOST": host, "REQUEST_METHOD": "GET"},
            lambda s, headers, exc_info=None: status.append(s),
        )
    )
    return status[0], body


APP_SOURCE = """
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"plain"]

def create_app(name="factory", *, shout=False):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [(name.upper() if shout else name).encode()]
    return app

not_callable = 42
"""


@pytest.fixture
def app_dir(tmp_path: Path) -> Iterator[Path]:
    module = f"rtapp_{tmp_path.name.replace('-', '_')}"
    write(tmp_path, {f"{module}.py": APP_SOURCE, "deploy/site.wsgi": APP_SOURCE})
    (tmp_path / "module_name").write_text(module)
    yield tmp_path
    sys.modules.pop(module, None)
    if str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


def spec_for(app_dir: Path, **app: Any) -> dict[str, Any]:
    return {
        "kind": "callable",
        "module": (app_dir / "module_name").read_text(),
        "callable": "application",
        "args": None,
        "path": None,
        "section": None,
        **app,
    }


def test_loads_module_callable(app_dir: Path) -> None:
    app = containerize_wsgi.load_app(spec_for(app_dir), str(app_dir))
    assert call(app) == ("200 OK", b"plain")


def test_calls_a_factory_with_literal_arguments(app_dir: Path) -> None:
    spec = spec_for(app_dir, kind="factory", callable="create_app", args="'hi', shout=True")
    assert call(containerize_wsgi.load_app(spec, str(app_dir))) == ("200 OK", b"HI")
    spec = spec_for(app_dir, kind="factory", callable="create_app", args="")
    assert call(containerize_wsgi.load_app(spec, str(app_dir))) == ("200 OK", b"factory")


def test_runs_a_wsgi_script_file(app_dir: Path) -> None:
    spec = spec_for(app_dir, kind="script", module=None, path="deploy/site.wsgi")
    assert call(containerize_wsgi.load_app(spec, str(app_dir))) == ("200 OK", b"plain")


def test_a_missing_callable_names_what_the_module_has(app_dir: Path) -> None:
    spec = spec_for(app_dir, callable="no_such_callable")
    with pytest.raises(containerize_wsgi.LoadError, match="has no attribute 'no_such_callable'"):
        containerize_wsgi.load_app(spec, str(app_dir))


def test_a_value_that_is_not_callable_is_refused(app_dir: Path) -> None:
    spec = spec_for(app_dir, callable="not_callable")
    with pytest.raises(containerize_wsgi.LoadError, match="is a int, not a WSGI callable"):
        containerize_wsgi.load_app(spec, str(app_dir))


def test_paste_without_pastedeploy_says_what_to_add(app_dir: Path) -> None:
    spec = spec_for(app_dir, kind="paste", module=None, path="site.ini", section="main")
    with pytest.raises(containerize_wsgi.LoadError, match="needs PasteDeploy"):
        containerize_wsgi.load_app(spec, str(app_dir))


# --- the Host allow-list -----------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("app.example", True),
        ("APP.example:8000", True),
        ("app.example.", True),
        ("www.shop.example", True),
        ("shop.example", True),
        ("evil.example", False),
        ("app.example.evil", False),
        ("notshop.example", False),
        ("localhost:8000", True),
        ("127.0.0.1:8000", True),
        ("[::1]:8000", True),
        ("", False),
    ],
)
def test_host_allowed(host: str, allowed: bool) -> None:
    assert containerize_wsgi.host_allowed(host, ("app.example", ".shop.example")) is allowed


def test_a_foreign_host_gets_400_before_the_app_is_called() -> None:
    called = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        called.append(environ)
        start_response("200 OK", [])
        return [b"ok"]

    guarded = containerize_wsgi.HostAllowList(app, ("app.example",))
    status, body = call(guarded, host="evil.example")
    assert status == "400 Bad Request"
    assert b"Bad Request" in body
    assert called == []
    assert call(guarded, host="app.example") == ("200 OK", b"ok")


def test_allowed_hosts_come_from_the_environment_first() -> None:
    spec = {"allowed_hosts": ["app.example"]}
    assert containerize_wsgi.allowed_hosts(spec, {}) == ("app.example",)
    environ = {"WSGI_ALLOWED_HOSTS": "a.example, .B.example"}
    assert containerize_wsgi.allowed_hosts(spec, environ) == ("a.example", ".b.example")


def test_hashed_names_are_recognised() -> None:
    # The image's copy cannot import containerize: it must say what the servers say.
    assert containerize_wsgi.HASHED_NAME.pattern == HASHED_NAME_RE
    assert containerize_wsgi.HASHED_NAME.search("/static/site.b4578c5a97ac.css")
    assert not containerize_wsgi.HASHED_NAME.search("/static/style.css")
