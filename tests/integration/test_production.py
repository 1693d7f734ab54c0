"""Production behaviour, the same on every server: sized to the container's memory,
behind a proxy. Real images of fixtures/hello-wsgi (linux/amd64), real containers.

hello-wsgi's ``/_probe/environ`` answers with the REMOTE_ADDR and wsgi.url_scheme the
application was handed.
"""

from __future__ import annotations

import http.client
import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from containerize import config, process, servers
from containerize.commands.machine import machine
from containerize.engine import containers
from containerize.image import pipeline
from containerize.platforms import LINUX_AMD64

from .conftest import copy_project

SERVERS = ("gunicorn", "uwsgi", "mod_wsgi", "cheroot")
PROBE = "/_probe/environ"
READY = 120


@pytest.fixture(scope="module")
def hello_image(
    base_image: str, session_id: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """hello-wsgi's four images, for linux/amd64 only."""
    project = copy_project("hello-wsgi", tmp_path_factory.mktemp("projects"))
    image = f"containerize-test/production-{session_id}"
    cfg = config.load(project, overrides={"image": image, "platforms": ["linux/amd64"]})
    prepared = pipeline.prepare(cfg, machine(engine=True), output="load")
    pipeline.build(prepared.invocations)
    yield image
    for inv in prepared.invocations:
        process.run(["docker", "image", "rm", "--force", *inv.tags], check=False)


@pytest.fixture
def run() -> Iterator[Callable[..., containers.Container]]:
    started: list[containers.Container] = []

    def start(image: str, **kwargs: Any) -> containers.Container:
        container = containers.start(image, platform=LINUX_AMD64, port=8000, **kwargs)
        started.append(container)
        return container

    yield start
    for container in started:
        containers.remove(container)


def _probe(container: containers.Container, headers: dict[str, str]) -> dict[str, Any]:
    connection = http.client.HTTPConnection(container.host, container.port, timeout=30)
    try:
        connection.request("GET", PROBE, headers={"Host": "localhost", **headers})
        answer = connection.getresponse()
        body = answer.read()
    finally:
        connection.close()
    assert answer.status == 200, (answer.status, body[:300])
    environ: dict[str, Any] = json.loads(body)
    return environ


@pytest.mark.parametrize("server", SERVERS)
def test_workers_fit_the_memory_limit(
    hello_image: str, run: Callable[..., containers.Container], server: str
) -> None:
    module = servers.get(server)
    # One CPU gives 3 workers by the formula; 128 MiB holds fewer on the pre-fork servers.
    fits = (128 - module.memory_reserve) // module.worker_memory
    workers = min(3, fits)
    container = run(f"{hello_image}:{server}", cpus=1, memory="128m")
    assert containers.get(container, "/", timeout=READY).status == 200
    log = containers.logs(container)
    expected = (
        f"memory: a 128 MiB limit holds {fits} at {module.worker_memory} MiB a worker; 3 by CPUs"
        if fits < 3
        else "2 x 1 CPUs + 1"
    )
    assert f"starting {server}: {workers} workers x " in log, log
    assert f"({expected})" in log, log

    # The platform's count wins over the formula, and the start line says so.
    told = run(f"{hello_image}:{server}", cpus=1, env={"WEB_CONCURRENCY": "2"})
    assert containers.get(told, "/", timeout=READY).status == 200
    assert f"starting {server}: 2 workers x " in containers.logs(told)
    assert "(WEB_CONCURRENCY)" in containers.logs(told)


@pytest.mark.parametrize("server", SERVERS)
def test_a_memory_limit_too_small_for_one_worker_stops_the_start(
    hello_image: str, run: Callable[..., containers.Container], server: str
) -> None:
    module = servers.get(server)
    container = run(f"{hello_image}:{server}", memory="48m")
    assert containers.wait_exited(container, timeout=60) == 2
    log = containers.logs(container)
    assert "the container's memory limit, 48 MiB, is too small for one worker" in log, log
    # The build measured what the loaded app holds; the preloading masters (Gunicorn's,
    # uWSGI's: hello-wsgi's import leaves nothing running) hold it too, and cheroot's
    # one process counts it in its reserve where that is more.
    verdict = process.run(
        ["docker", "run", "--rm", "--platform", str(LINUX_AMD64), "--entrypoint", "cat",
         f"{hello_image}:{server}", "/opt/containerize/import-check.json"]
    )  # fmt: skip
    app = json.loads(verdict.stdout)["memory_mib"]
    assert app > 0
    assert app % 8 == 0
    serving = -(-int(app * 1.25) // 8) * 8
    if module.workers_are_threads:
        needs = max(module.memory_reserve, serving) + module.worker_memory
    else:
        preloads = server in {"gunicorn", "uwsgi"}
        needs = module.memory_reserve + (app if preloads else 0)
        needs += max(module.worker_memory, serving)
    assert f"to at least {needs} MiB" in log, log
    assert f"memory: the app holds {app} MiB loaded (the build's import check)" in log, log


@pytest.mark.parametrize("server", SERVERS)
def test_forwarded_headers_count_from_trusted_proxies_only(
    hello_image: str, run: Callable[..., containers.Container], server: str
) -> None:
    forwarded = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9", "X-Forwarded-Proto": "https"}
    # No proxy trusted (the default): the headers change nothing, on every server.
    plain = run(f"{hello_image}:{server}")
    assert containers.get(plain, "/", timeout=READY).status == 200
    peer = _probe(plain, {})["REMOTE_ADDR"]  # the engine's bridge or loopback address
    seen = _probe(plain, forwarded)
    assert (seen["REMOTE_ADDR"], seen["wsgi.url_scheme"]) == (peer, "http"), seen
    assert "trusted proxies: none" in containers.logs(plain)

    # The test's own address trusted at run time: the rightmost untrusted address.
    trusted = run(f"{hello_image}:{server}", env={"WSGI_TRUSTED_PROXIES": f"192.0.2.0/24,{peer}"})
    assert containers.get(trusted, "/", timeout=READY).status == 200
    seen = _probe(trusted, forwarded)
    assert (seen["REMOTE_ADDR"], seen["wsgi.url_scheme"], seen["HTTPS"]) == (
        "203.0.113.9", "https", "on",
    ), seen  # fmt: skip
    seen = _probe(trusted, {"X-Forwarded-For": "203.0.113.9, 192.0.2.1"})
    assert (seen["REMOTE_ADDR"], seen["wsgi.url_scheme"]) == ("203.0.113.9", "http"), seen

    # A list that does not hold the test's address: ignored from it.
    other = run(f"{hello_image}:{server}", env={"WSGI_TRUSTED_PROXIES": "192.0.2.0/24"})
    assert containers.get(other, "/", timeout=READY).status == 200
    seen = _probe(other, forwarded)
    assert (seen["REMOTE_ADDR"], seen["wsgi.url_scheme"]) == (peer, "http"), seen


def test_a_bad_trusted_proxy_stops_the_start(
    hello_image: str, run: Callable[..., containers.Container]
) -> None:
    bad = run(f"{hello_image}:gunicorn", env={"WSGI_TRUSTED_PROXIES": "proxy.internal"})
    assert containers.wait_exited(bad, timeout=60) == 2
    assert "WSGI_TRUSTED_PROXIES: 'proxy.internal' is not an IP address" in containers.logs(bad)


@pytest.mark.parametrize("server", SERVERS)
def test_workers_are_recycled_after_max_requests(
    hello_image: str, run: Callable[..., containers.Container], server: str
) -> None:
    env = {"WSGI_WORKERS": "1", "WSGI_MAX_REQUESTS": "5", "WSGI_MAX_REQUESTS_JITTER": "0"}
    container = run(f"{hello_image}:{server}", env=env)
    assert containers.get(container, "/", timeout=READY).status == 200  # request 1
    time.sleep(1.5)  # uWSGI replaces a worker once it has lived a second
    pids = {_probe(container, {})["pid"] for _ in range(11)}  # requests 2-12
    log = containers.logs(container)
    if server == "cheroot":  # one process: it says so, and keeps serving
        assert len(pids) == 1, pids
        assert "cheroot serves from one process and cannot recycle it" in log, log
    else:
        assert len(pids) >= 2, (pids, log)
        assert "recycling: each worker after 5 requests" in log, log


@pytest.mark.parametrize("server", SERVERS)
def test_one_access_log_line_per_request_with_the_agreed_fields(
    hello_image: str, run: Callable[..., containers.Container], server: str
) -> None:
    plain = run(f"{hello_image}:{server}")
    assert containers.get(plain, "/", timeout=READY).status == 200
    peer = _probe(plain, {})["REMOTE_ADDR"]
    env = {"WSGI_TRUSTED_PROXIES": peer}
    for log_format in ("common", "json"):
        container = run(f"{hello_image}:{server}", env={**env, "WSGI_ACCESS_LOG": log_format})
        assert containers.get(container, "/", timeout=READY).status == 200
        connection = http.client.HTTPConnection(container.host, container.port, timeout=30)
        connection.request(
            "GET", "/hello/world?token=secret",
            headers={"Host": "localhost", "X-Forwarded-For": "203.0.113.9"},
        )  # fmt: skip
        answer = connection.getresponse()
        body = answer.read()
        connection.close()
        assert answer.status == 200
        for _ in range(20):  # the line is written once the body has gone out
            lines = [
                line for line in containers.logs(container).splitlines() if "/hello/world" in line
            ]
            if lines:
                break
            time.sleep(0.25)
        assert len(lines) == 1, lines  # ours only: the server's own access log is off
        (line,) = lines
        assert "secret" not in line
        if log_format == "common":
            assert re.fullmatch(
                r"203\.0\.113\.9 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] "
                rf'"GET /hello/world HTTP/1\.1" 200 {len(body)} \d+\.\d{{3}}ms',
                line,
            ), line
        else:
            record = json.loads(line)
            assert {k: record[k] for k in ("remote_addr", "method", "path", "status", "bytes")} == {
                "remote_addr": "203.0.113.9", "method": "GET", "path": "/hello/world",
                "status": 200, "bytes": len(body),
            }, line  # fmt: skip
            assert record["duration_ms"] >= 0
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["time"])
