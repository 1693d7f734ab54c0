"""The files that run inside the images: the entrypoint and the WSGI entry point.

They are plain modules, so they are tested here by importing them; the integration
tests run them for real, in every server's image.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import threading
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from containerize.runtime import containerize_hosts, containerize_workers, containerize_wsgi
from containerize.runtime import containerize_start as start
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
    assert containerize_workers.cgroup_cpu_limit(str(write(tmp_path, files))) == expected


def test_available_cpus_rounds_the_quota_up_and_never_exceeds_the_cpuset(tmp_path: Path) -> None:
    affinity = len(os.sched_getaffinity(0))
    write(tmp_path, {"cpu.max": "50000 100000"})
    assert containerize_workers.available_cpus(str(tmp_path)) == 1
    write(tmp_path, {"cpu.max": f"{(affinity + 5) * 100000} 100000"})
    assert containerize_workers.available_cpus(str(tmp_path)) == affinity


# --- settings -----------------------------------------------------------------------

SPEC: dict[str, Any] = {
    "server": "gunicorn",
    "settings": {
        "workers": None, "threads": 1, "timeout": 30, "keepalive": 5, "grace_period": 8,
        "worker_memory": 64, "memory_reserve": 32,
    },
    "argv": ["gunicorn", "--workers", "{workers}", "--bind", "0.0.0.0:8000", "x{threads}y"],
}  # fmt: skip
MIB = 1024 * 1024


def test_workers_default_to_twice_the_cpus_plus_one() -> None:
    values, why = start.settings(SPEC, {}, cpus=2)
    assert (values["workers"], why) == (5, "2 x 2 CPUs + 1")
    assert start.server_argv(SPEC, values) == [
        "gunicorn", "--workers", "5", "--bind", "0.0.0.0:8000", "x1y",
    ]  # fmt: skip


def test_environment_wins_over_the_image_defaults() -> None:
    environ = {"WSGI_WORKERS": "7", "WSGI_THREADS": "3", "WSGI_GRACE_PERIOD": "20"}
    values, why = start.settings(SPEC, environ, cpus=2)
    assert (values["workers"], values["threads"], values["grace_period"]) == (7, 3, 20)
    assert values["concurrency"] == 21
    assert why == "WSGI_WORKERS"


def test_a_configured_worker_count_wins_over_the_cpus() -> None:
    spec = {**SPEC, "settings": {**SPEC["settings"], "workers": 4}}
    assert start.settings(spec, {}, cpus=8) == (
        start.settings(spec, {}, cpus=8)[0],
        "the image's workers setting",
    )
    assert start.settings(spec, {}, cpus=8)[0]["workers"] == 4


def test_web_concurrency_is_honoured_after_wsgi_workers() -> None:
    spec = {**SPEC, "settings": {**SPEC["settings"], "workers": 4}}
    values, why = start.settings(spec, {"WEB_CONCURRENCY": "6"}, cpus=2)
    assert (values["workers"], why) == (6, "WEB_CONCURRENCY")
    values, why = start.settings(spec, {"WEB_CONCURRENCY": "6", "WSGI_WORKERS": "2"}, cpus=2)
    assert (values["workers"], why) == (2, "WSGI_WORKERS")


@pytest.mark.parametrize("variable", ["WSGI_WORKERS", "WEB_CONCURRENCY"])
@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", "99999", "2 workers"])
def test_a_bad_setting_is_refused_by_name(variable: str, value: str) -> None:
    with pytest.raises(
        containerize_workers.StartError, match=f"{variable}='{value}' is not a whole number"
    ):
        start.settings(SPEC, {variable: value}, cpus=2)


# --- recycling ----------------------------------------------------------------------


def test_workers_are_not_recycled_unless_asked() -> None:
    values, _ = start.settings(SPEC, {}, cpus=2)
    assert (values["max_requests"], values["max_requests_jitter"]) == (0, 0)
    assert values["max_requests_delta"] == 0
    assert start.recycling(SPEC, values) is None


def test_the_jitter_defaults_to_a_tenth_and_is_spread_over_the_workers() -> None:
    spec = {**SPEC, "settings": {**SPEC["settings"], "max_requests": 1000}}
    values, _ = start.settings(spec, {}, cpus=1)
    assert (values["max_requests"], values["max_requests_jitter"]) == (1000, 100)
    assert values["max_requests_delta"] == 33  # 3 workers: 1000, 1033, 1066 for uWSGI
    assert start.recycling(spec, values) == "recycling: each worker after 1000 to 1100 requests"
    values, _ = start.settings(
        spec, {"WSGI_MAX_REQUESTS": "500", "WSGI_MAX_REQUESTS_JITTER": "0"}, cpus=1
    )
    assert start.recycling(spec, values) == "recycling: each worker after 500 requests"


def test_the_start_says_when_a_server_cannot_recycle_as_asked() -> None:
    values, _ = start.settings(SPEC, {"WSGI_MAX_REQUESTS": "1000"}, cpus=1)
    assert start.recycling({**SPEC, "server": "mod_wsgi", "recycling": "exact"}, values) == (
        "recycling: each worker after 1000 requests (mod_wsgi has no jitter)"
    )
    assert start.recycling({**SPEC, "server": "cheroot", "recycling": "none"}, values) == (
        "recycling: cheroot serves from one process and cannot recycle it; "
        "max-requests (1000) is not applied"
    )


# --- memory -------------------------------------------------------------------------

# What the kernel writes for "no limit" in cgroup v1: LONG_MAX rounded down to a page.
V1_NO_LIMIT = "9223372036854771712"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"memory.max": "max\n"}, None),
        ({"memory.max": f"{512 * MIB}\n"}, 512 * MIB),
        ({"memory/memory.limit_in_bytes": f"{256 * MIB}\n"}, 256 * MIB),
        ({"memory/memory.limit_in_bytes": V1_NO_LIMIT + "\n"}, None),
        ({"memory.max": "garbage"}, None),
        ({}, None),
    ],
    ids=["v2-none", "v2-512m", "v1-256m", "v1-none", "v2-garbage", "none"],
)
def test_cgroup_memory_limit(tmp_path: Path, files: dict[str, str], expected: int | None) -> None:
    assert containerize_workers.cgroup_memory_limit(str(write(tmp_path, files))) == expected


@pytest.mark.parametrize(
    "files",
    [{"memory.max": f"{512 * MIB}\n"}, {"memory/memory.limit_in_bytes": f"{512 * MIB}\n"}],
    ids=["v2", "v1"],
)
def test_a_small_memory_limit_caps_the_workers_the_cpus_would_give(
    tmp_path: Path, files: dict[str, str]
) -> None:
    """16 CPUs and 512 MiB: (512 - 32) / 64 = 7 workers, not 33."""
    memory = containerize_workers.cgroup_memory_limit(str(write(tmp_path, files)))
    values, why = start.settings(SPEC, {}, cpus=16, memory=memory)
    assert values["workers"] == 7
    assert why == "memory: a 512 MiB limit holds 7 at 64 MiB a worker; 33 by CPUs"


@pytest.mark.parametrize(
    "files",
    [{"memory.max": "max\n"}, {"memory/memory.limit_in_bytes": V1_NO_LIMIT}, {}],
    ids=["v2", "v1", "no-cgroup-files"],
)
def test_without_a_memory_limit_the_cpus_decide(tmp_path: Path, files: dict[str, str]) -> None:
    memory = containerize_workers.cgroup_memory_limit(str(write(tmp_path, files)))
    assert start.settings(SPEC, {}, cpus=16, memory=memory) == (
        start.settings(SPEC, {}, cpus=16)[0],
        "2 x 16 CPUs + 1",
    )
    assert start.settings(SPEC, {}, cpus=16, memory=memory)[0]["workers"] == 33


def test_a_large_limit_leaves_the_cpus_in_charge() -> None:
    values, why = start.settings(SPEC, {}, cpus=2, memory=4096 * MIB)
    assert (values["workers"], why) == (5, "2 x 2 CPUs + 1")


def test_the_worker_memory_can_be_set_at_run_time() -> None:
    values, why = start.settings(SPEC, {"WSGI_WORKER_MEMORY": "160"}, cpus=16, memory=512 * MIB)
    assert values["workers"] == 3  # (512 - 32) // 160
    assert why.startswith("memory: a 512 MiB limit holds 3 at 160 MiB a worker")


@pytest.mark.parametrize(
    "files",
    [{"memory.max": f"{80 * MIB}\n"}, {"memory/memory.limit_in_bytes": f"{80 * MIB}\n"}],
    ids=["v2", "v1"],
)
def test_a_limit_too_small_for_one_worker_stops_the_start(
    tmp_path: Path, files: dict[str, str]
) -> None:
    memory = containerize_workers.cgroup_memory_limit(str(write(tmp_path, files)))
    with pytest.raises(containerize_workers.StartError) as info:
        start.settings(SPEC, {"WSGI_WORKERS": "1"}, cpus=2, memory=memory)
    assert info.value.code == 2
    assert str(info.value) == (
        "the container's memory limit, 80 MiB, is too small for one worker: gunicorn needs "
        "32 MiB for itself and 64 MiB a worker; raise the limit (docker run --memory) to at "
        "least 96 MiB, or lower WSGI_WORKER_MEMORY if this app's workers are smaller"
    )


def test_the_apps_measured_memory_sizes_the_workers_and_the_preloading_master(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A Django app that holds 80 MiB loaded: a worker is counted at 80 x 1.25 = 100,
    up to 104 MiB; a preloading master holds the app too. 256 MiB: (256 - 32 - 80) /
    104 = 1 worker, where the server's 64 MiB would have given 3 (OOM-killed)."""
    app = containerize_workers.AppMemory(80, preloaded=True)
    values, why = start.settings(SPEC, {}, cpus=1, memory=256 * MIB, app=app)
    assert (values["workers"], values["worker_memory"]) == (1, 104)
    assert why == "memory: a 256 MiB limit holds 1 at 104 MiB a worker; 3 by CPUs"
    assert (
        "containerize: memory: the app holds 80 MiB loaded (the build's import check); a "
        "worker is counted at 104 MiB, and the preloading master's 80 MiB with the server's own"
    ) in capsys.readouterr().err
    # Each worker loads it: nothing more to reserve. (256 - 32) / 104 = 2.
    lazy = containerize_workers.AppMemory(80, preloaded=False)
    assert start.settings(SPEC, {}, cpus=1, memory=256 * MIB, app=lazy)[0]["workers"] == 2
    # A small app keeps the server's measured 64 MiB a worker: (256 - 32 - 16) / 64 = 3.
    small = containerize_workers.AppMemory(16, preloaded=True)
    assert start.settings(SPEC, {}, cpus=1, memory=256 * MIB, app=small)[0]["workers"] == 3
    # Without a limit the CPUs decide, measured or not.
    assert start.settings(SPEC, {}, cpus=2, app=app)[0]["workers"] == 5


def test_a_stated_worker_memory_is_not_raised_to_the_measured_app() -> None:
    app = containerize_workers.AppMemory(80, preloaded=True)
    values, _ = start.settings(
        SPEC, {"WSGI_WORKER_MEMORY": "90"}, cpus=4, memory=512 * MIB, app=app
    )
    assert (values["worker_memory"], values["workers"]) == (90, 4)  # (512 - 112) // 90
    stated = {**SPEC, "settings": {**SPEC["settings"], "worker_memory_stated": True}}
    values, _ = start.settings(stated, {}, cpus=4, memory=512 * MIB, app=app)
    assert values["worker_memory"] == 64  # as the project said; the master still counts
    assert values["workers"] == 6  # (512 - 112) // 64


def test_a_server_whose_workers_are_threads_reserves_its_one_process() -> None:
    spec = {
        **SPEC,
        "server": "cheroot",
        "workers_are_threads": True,
        "settings": {**SPEC["settings"], "worker_memory": 2, "memory_reserve": 64},
    }
    app = containerize_workers.AppMemory(80, preloaded=False)
    with pytest.raises(
        containerize_workers.StartError, match=r"needs 104 MiB for itself and 2 MiB a worker"
    ):
        start.settings(spec, {}, cpus=1, memory=96 * MIB, app=app)
    assert start.settings(spec, {}, cpus=1, memory=256 * MIB, app=app)[0]["workers"] == 3


def test_an_image_without_the_measurement_counts_as_before() -> None:
    assert containerize_workers.AppMemory.of(None, preloaded=True) is None
    assert containerize_workers.AppMemory.of({"clean": True, "found": []}, preloaded=True) is None
    measured = containerize_workers.AppMemory.of(
        {"clean": True, "found": [], "memory_mib": 48}, preloaded=True
    )
    assert measured is not None
    assert (measured.mib, measured.preloaded) == (48, True)


def test_an_explicit_count_above_what_memory_holds_is_kept_with_a_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    values, why = start.settings(SPEC, {"WEB_CONCURRENCY": "9"}, cpus=2, memory=256 * MIB)
    assert (values["workers"], why) == (9, "WEB_CONCURRENCY")
    assert "9 workers (WEB_CONCURRENCY) may not fit in the 256 MiB memory limit, which holds 3" in (
        capsys.readouterr().err
    )


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
    with pytest.raises(containerize_workers.StartError, match="is not 'host:port'"):
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
    with pytest.raises(
        containerize_workers.StartError, match=rf"127.0.0.1:{port} did not accept"
    ) as info:
        start.wait_for([("127.0.0.1", port)], timeout=0.6)
    assert "WSGI_WAIT_TIMEOUT" in str(info.value)
    assert info.value.code == 1


def test_prestart_commands_are_split_like_a_shell_but_run_without_one() -> None:
    text = "python manage.py migrate --noinput\n\n# a comment\necho 'two words' $HOME\n"
    assert start.parse_commands(text) == [
        ["python", "manage.py", "migrate", "--noinput"],
        ["echo", "two words", "$HOME"],
    ]
    with pytest.raises(containerize_workers.StartError, match="WSGI_PRESTART line 1"):
        start.parse_commands("echo 'unclosed")


def test_a_failing_prestart_command_stops_the_start_with_its_code(tmp_path: Path) -> None:
    start.run_commands([["true"]], cwd=str(tmp_path))
    with pytest.raises(containerize_workers.StartError, match="failed with exit code 3") as info:
        start.run_commands([["sh", "-c", "exit 3"], ["true"]], cwd=str(tmp_path))
    assert info.value.code == 3
    with pytest.raises(
        containerize_workers.StartError, match="cannot run no-such-command"
    ) as missing:
        start.run_commands([["no-such-command"]], cwd=str(tmp_path))
    assert missing.value.code == 127


# --- the WSGI entry point: application types ---------------------------------------


def call(app: Any, path: str = "/", host: str | None = "localhost") -> tuple[str, bytes]:
    status: list[str] = []
    environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET"}
    if host is not None:
        environ["HTTP_HOST"] = host
    body = b"".join(app(environ, lambda s, headers, exc_info=None: status.append(s)))
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

ENTRIES = ("app.example", ".shop.example", "[2001:db8::1]")


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("app.example", True),
        ("APP.example:8000", True),
        ("app.example.", True),
        ("www.shop.example", True),
        ("a.b.shop.example:443", True),
        ("shop.example", True),
        ("[2001:DB8::1]:8000", True),
        ("evil.example", False),
        ("app.example.evil", False),
        ("notshop.example", False),
        ("app.example..", False),
        ("app.example:", False),
        ("app.example:80x", False),
        ("app.example\n", False),
        ("app.example, evil.example", False),  # two Host headers, joined by the server
        ("localhost:8000", True),
        ("127.0.0.1:8000", True),
        ("[::1]:8000", True),
        ("", False),
        (None, False),  # no Host header (HTTP/1.0): 400 unless '*'
    ],
)
def test_host_allowed(host: str | None, allowed: bool) -> None:
    regex = re.compile(str(containerize_hosts.pattern(ENTRIES)))
    assert containerize_hosts.allowed(host, regex) is allowed


def test_any_host_has_no_pattern_and_allows_a_request_without_host() -> None:
    assert containerize_hosts.pattern(("app.example", "*")) is None
    assert containerize_hosts.allowed(None, None)


def _django_allows(host: str, entries: tuple[str, ...]) -> bool:
    """Django's own check (django.http.request.validate_host and split_domain_port)."""
    match = re.fullmatch(r"([a-z0-9.-]+|\[[a-f0-9]*:[a-f0-9.:]+\])(?::([0-9]+))?", host.lower())
    if not match:
        return False
    domain = match[1].removesuffix(".")
    if domain in ("localhost", "127.0.0.1", "[::1]"):  # ours, not Django's: loopback passes
        return True
    return any(
        entry == "*"
        or entry == domain
        or (entry.startswith(".") and (domain.endswith(entry) or domain == entry[1:]))
        for entry in entries
    )


def test_the_pattern_decides_as_django_does() -> None:
    names = ["app.example", "shop.example", "x.shop.example", "xshop.example", "[2001:db8::1]"]
    names += ["localhost", "127.0.0.1", "[::1]", "a-b.example", "example", "sub.app.example"]
    hosts = [
        variant
        for name in names
        for variant in (name, name.upper(), f"{name}.", f"{name}:8000", f"{name}.:1", f"{name}..")
    ]
    for entries in [ENTRIES, ("example",), (".example",), ("a-b.example", ".app.example")]:
        regex = re.compile(str(containerize_hosts.pattern(entries)))
        for host in hosts:
            expected = _django_allows(host, entries)
            assert containerize_hosts.allowed(host, regex) is expected, (host, entries)


@pytest.mark.parametrize(
    "entry",
    [
        "example.com:8000",
        "http://example.com",
        "*.example.com",
        "ex*ample.com",
        "exa mple.com",
        "example.com|.*",
        "(evil)",
        "example.com/",
        "example..com",
        "ex\\ample.com",
        "[::1",
        '"example.com"',
        "$(HOME)",
        "${X}",
    ],
)
def test_entries_that_are_not_host_names_are_refused(entry: str) -> None:
    with pytest.raises(containerize_hosts.HostsError, match="is not a host name"):
        containerize_hosts.parse(f"app.example,{entry}", where="WSGI_ALLOWED_HOSTS")


def test_the_pattern_reads_the_same_in_every_server_configuration() -> None:
    regex = str(containerize_hosts.pattern(("a-b.example", ".c.example", "[::2]")))
    # No space or quote (uWSGI splits route options, Apache directive arguments, on
    # them), no '$(' (uWSGI variables), no '${' or '%{' (Apache's), no '{' at all.
    assert not re.search(r"[\s'\"{}]|\$\(", regex), regex
    assert regex.startswith("(?i)^")


def test_allowed_hosts_come_from_the_environment_first() -> None:
    assert containerize_hosts.configured(["app.example"], {}) == ("app.example",)
    environ = {"WSGI_ALLOWED_HOSTS": "a.example, .B.example,"}
    assert containerize_hosts.configured(["app.example"], environ) == ("a.example", ".b.example")
    assert containerize_hosts.configured(["app.example"], {"WSGI_ALLOWED_HOSTS": " "}) == (
        "app.example",
    )
    with pytest.raises(containerize_hosts.HostsError, match="WSGI_ALLOWED_HOSTS names no host"):
        containerize_hosts.configured(["app.example"], {"WSGI_ALLOWED_HOSTS": " , "})


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
    status, _ = call(guarded, host=None)
    assert status == "400 Bad Request"
    assert called == [{"PATH_INFO": "/", "HTTP_HOST": "app.example", "REQUEST_METHOD": "GET"}]


def test_the_host_check_wraps_the_static_file_layer(
    app_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """WhiteNoise serves files without calling the app: the Host check must come first."""
    served: list[str] = []

    class WhiteNoise:  # stands in for whitenoise.WhiteNoise: serves everything itself
        def __init__(self, app: Any, **_: Any) -> None:
            self.app = app

        def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
            served.append(environ["PATH_INFO"])
            start_response("200 OK", [("Content-Type", "text/css")])
            return [b"body{}"]

    monkeypatch.setitem(sys.modules, "whitenoise", type(sys)("whitenoise"))
    monkeypatch.setattr(sys.modules["whitenoise"], "WhiteNoise", WhiteNoise, raising=False)
    spec = {
        "app": spec_for(app_dir),
        "app_dir": str(app_dir),
        "allowed_hosts": ["app.example"],
        "static": {"url": "/static/", "root": str(app_dir), "whitenoise": True},
    }
    app = containerize_wsgi.build(spec, {})
    assert call(app, "/static/site.css", host="evil.example")[0] == "400 Bad Request"
    assert served == []
    assert call(app, "/static/site.css", host="app.example") == ("200 OK", b"body{}")
    # The run-time list replaces the image's.
    app = containerize_wsgi.build(spec, {"WSGI_ALLOWED_HOSTS": "evil.example"})
    assert call(app, "/static/site.css", host="evil.example")[0] == "200 OK"
    assert call(app, "/static/site.css", host="app.example")[0] == "400 Bad Request"


def test_whitenoise_sees_only_the_static_prefix(
    app_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page of the application does not pass through WhiteNoise's path lookup."""
    looked_up: list[str] = []

    class WhiteNoise:  # stands in for whitenoise.WhiteNoise: notes every path it sees
        def __init__(self, app: Any, **_: Any) -> None:
            self.app = app

        def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
            looked_up.append(environ["PATH_INFO"])
            return self.app(environ, start_response)

    monkeypatch.setitem(sys.modules, "whitenoise", type(sys)("whitenoise"))
    monkeypatch.setattr(sys.modules["whitenoise"], "WhiteNoise", WhiteNoise, raising=False)
    spec = {
        "app": spec_for(app_dir),
        "app_dir": str(app_dir),
        "static": {"url": "/static/", "root": str(app_dir), "whitenoise": True},
    }
    app = containerize_wsgi.build(spec, {"WSGI_ACCESS_LOG": "off"})
    assert call(app, "/")[0] == "200 OK"
    assert call(app, "/static-page")[0] == "200 OK"
    assert looked_up == []
    call(app, "/static/site.css")
    assert looked_up == ["/static/site.css"]


# --- the entrypoint's part: the server's own check ---------------------------------

HOST_CHECK_SPEC = {
    "allowed_hosts": ["app.example"],
    "host_check": ["--route-host", "{allowed_hosts_re} continue:", "--route-run", "break:400"],
}


def test_the_entrypoint_fills_the_servers_host_check_with_the_pattern() -> None:
    entries = start.allowed_hosts(HOST_CHECK_SPEC, {})
    argv, regex = start.host_check(HOST_CHECK_SPEC, entries)
    assert regex == containerize_hosts.pattern(("app.example",))
    assert argv == ["--route-host", f"{regex} continue:", "--route-run", "break:400"]


def test_the_run_time_list_replaces_the_images_and_any_host_drops_the_check() -> None:
    entries = start.allowed_hosts(HOST_CHECK_SPEC, {"WSGI_ALLOWED_HOSTS": "other.example"})
    argv, regex = start.host_check(HOST_CHECK_SPEC, entries)
    assert regex is not None
    assert argv[1] == f"{regex} continue:"
    assert re.match(regex, "other.example:8000")
    assert not re.match(regex, "app.example")
    entries = start.allowed_hosts(HOST_CHECK_SPEC, {"WSGI_ALLOWED_HOSTS": "*"})
    assert start.host_check(HOST_CHECK_SPEC, entries) == ([], None)


def test_a_bad_run_time_entry_stops_the_start_by_name() -> None:
    with pytest.raises(
        containerize_workers.StartError, match=r"WSGI_ALLOWED_HOSTS: '\*\.app\.example' is not"
    ):
        start.allowed_hosts(HOST_CHECK_SPEC, {"WSGI_ALLOWED_HOSTS": "*.app.example"})


def test_hashed_names_are_recognised() -> None:
    # The image's copy cannot import containerize: it must say what the servers say.
    assert containerize_wsgi.HASHED_NAME.pattern == HASHED_NAME_RE
    assert containerize_wsgi.HASHED_NAME.search("/static/site.b4578c5a97ac.css")
    assert not containerize_wsgi.HASHED_NAME.search("/static/style.css")


# --- the import check: the server's own module ---------------------------------------


class _NoPkgResources:
    """A venv without setuptools, as far as imports go: pkg_resources is not found."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pkg_resources":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def test_the_check_fails_when_the_server_cannot_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A server package that imports pkg_resources at import, in a venv that has none:
    the check says which server, which version, what is missing and who imports it; and
    it does not go on to load the app (there is no server.json here to load)."""
    (tmp_path / "oldserver").mkdir()
    (tmp_path / "oldserver" / "__init__.py").write_text("import pkg_resources\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "pkg_resources", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_NoPkgResources(), *sys.meta_path])
    loaded: list[object] = []
    monkeypatch.setattr(containerize_wsgi, "check", loaded.append)
    # A distribution that is installed here, for its version.
    argv = ["--check", "--verdict", "/nowhere", "--server-module", "oldserver"]
    assert containerize_wsgi.main([*argv, "--server", "packaging"]) == 1
    assert loaded == []
    err = capsys.readouterr().err
    version = metadata.version("packaging")
    assert (
        f"containerize: the server, packaging {version}, cannot be imported: No module named "
        f"'pkg_resources' (imported by {tmp_path / 'oldserver' / '__init__.py'}, line 1)\n"
    ) in err
    assert "ModuleNotFoundError: No module named 'pkg_resources'" in err  # the traceback


def test_a_server_that_imports_lets_the_check_load_the_app(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    loaded: list[str | None] = []

    def check(verdict: str | None) -> int:
        loaded.append(verdict)
        return 0

    monkeypatch.setattr(containerize_wsgi, "check", check)
    argv = ["--check", "--server-module", "json.decoder", "--server", "packaging"]
    assert containerize_wsgi.main([*argv, "--verdict", "/tmp/v.json"]) == 0
    assert loaded == ["/tmp/v.json"]
    assert (
        f"the server, packaging {metadata.version('packaging')}, imports" in capsys.readouterr().err
    )
    # Without the server's module: the app alone, as before.
    assert containerize_wsgi.main(["--check"]) == 0
    assert loaded == ["/tmp/v.json", None]


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--verdict", "x"],
        ["--check", "--server-module"],
        ["--check", "--server-module", "gunicorn.app.wsgiapp"],  # without --server
        ["--check", "--server", "gunicorn"],
        ["--check", "--bogus", "x"],
    ],
)
def test_the_check_refuses_arguments_it_does_not_know(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(containerize_wsgi, "check", lambda verdict: pytest.fail("ran the check"))
    assert containerize_wsgi.main(argv) == 2
    assert "usage: containerize_wsgi.py --check [--verdict FILE]" in capsys.readouterr().err
