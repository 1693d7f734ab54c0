"""Real containers: start an image with its port on 127.0.0.1, probe it over HTTP, stop it.

Probes only ever talk to the loopback address the engine published the port on, and
every wait is bounded in attempts and time.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

from containerize import process
from containerize.errors import ContainerTestError
from containerize.platforms import Platform

logger = logging.getLogger("containerize")


@dataclass(frozen=True, kw_only=True)
class Container:
    """A started container and where its port is published."""

    id: str
    image: str
    platform: Platform
    host: str
    port: int


@dataclass(frozen=True, kw_only=True)
class Response:
    """The first successful HTTP answer."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]
    attempts: int
    seconds: float


@dataclass(frozen=True, kw_only=True)
class Stopped:
    """How a container ended after ``docker stop``."""

    exit_code: int
    seconds: float
    killed: bool  # the stop timeout ran out and the engine sent SIGKILL


def start(
    image: str,
    *,
    platform: Platform,
    port: int,
    env: Mapping[str, str] | None = None,
    cpus: float | None = None,
) -> Container:
    """``docker run -d`` *image* with container port *port* published on 127.0.0.1."""
    argv = ["docker", "run", "--detach", "--platform", str(platform)]
    argv += ["--publish", f"127.0.0.1::{port}"]
    for key, value in (env or {}).items():
        argv += ["--env", f"{key}={value}"]
    if cpus is not None:
        argv += ["--cpus", f"{cpus:g}"]
    container_id = process.run([*argv, image], timeout=300).stdout.strip()
    mapping = process.run(
        ["docker", "port", container_id, f"{port}/tcp"], check=False, timeout=30
    ).stdout
    # The IPv4 line: "127.0.0.1:49153".
    host, _, host_port = (mapping.splitlines() or [""])[0].rpartition(":")
    if not host_port.isdigit():
        log = process.tail(_logs(container_id), 20)
        process.run(["docker", "rm", "--force", container_id], check=False, timeout=60)
        raise ContainerTestError(
            f"{image} ({platform}): port {port} was not published ({mapping.strip()!r})",
            hint="its log:\n" + log,
        )
    return Container(
        id=container_id, image=image, platform=platform, host=host, port=int(host_port)
    )


def get(
    container: Container,
    path: str = "/",
    *,
    timeout: float = 120.0,
    interval: float = 0.5,
    host: str = "localhost",
) -> Response:
    """GET *path* with *host* as Host until the server answers, for at most *timeout* s."""
    start_time = time.monotonic()
    attempts = 0
    last_error = "no attempt made"
    while time.monotonic() - start_time < timeout:
        attempts += 1
        connection = http.client.HTTPConnection(container.host, container.port, timeout=10)
        try:
            connection.request("GET", path, headers={"Host": host})
            answer = connection.getresponse()
            body = answer.read()
            response = Response(
                status=answer.status,
                body=body,
                headers=tuple(answer.getheaders()),
                attempts=attempts,
                seconds=time.monotonic() - start_time,
            )
            logger.info(
                "GET http://%s:%d%s -> %d %r (%s, attempt %d, %.1fs)",
                container.host, container.port, path, response.status, body[:60],
                container.platform, attempts, response.seconds,
            )  # fmt: skip
            return response
        except (OSError, http.client.HTTPException) as exc:
            last_error = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()
        if not running(container):
            raise ContainerTestError(
                f"{container.image} ({container.platform}) exited before answering HTTP",
                hint="its log:\n" + process.tail(logs(container), 20),
            )
        time.sleep(interval)
    raise ContainerTestError(
        f"{container.image} ({container.platform}) did not answer GET {path} on "
        f"{container.host}:{container.port} within {timeout:g}s ({last_error})",
        hint="its log:\n" + process.tail(logs(container), 20),
    )


def running(container: Container) -> bool:
    result = process.run(
        ["docker", "inspect", "--format", "{{.State.Running}}", container.id], check=False
    )
    return result.stdout.strip() == "true"


def stop(container: Container, *, timeout: int = 10) -> Stopped:
    """``docker stop``: the image's STOPSIGNAL, then SIGKILL after *timeout* seconds."""
    began = time.monotonic()
    process.run(["docker", "stop", "--time", str(timeout), container.id], timeout=timeout + 60)
    seconds = time.monotonic() - began
    state = json.loads(
        process.run(["docker", "inspect", "--format", "{{json .State}}", container.id]).stdout
    )
    exit_code = int(state.get("ExitCode", -1))
    return Stopped(exit_code=exit_code, seconds=seconds, killed=exit_code == 137)


def header(response: Response, name: str) -> str | None:
    """The value of header *name* in *response* (case-insensitive), or None."""
    return next((v for k, v in response.headers if k.lower() == name.lower()), None)


def processes(container: Container) -> list[tuple[str, str]]:
    """(user, command line) of every process in *container*, PID 1 first."""
    out = process.run(["docker", "top", container.id, "-o", "pid,user,args"], timeout=60).stdout
    rows = [line.split(None, 2) for line in out.splitlines()[1:] if line.strip()]
    return [
        (row[1], row[2] if len(row) > 2 else "") for row in sorted(rows, key=lambda r: int(r[0]))
    ]


def wait_exited(container: Container, *, timeout: float) -> int:
    """The exit code of *container* once it has stopped on its own."""
    result = process.run(["docker", "wait", container.id], timeout=timeout, check=False)
    return int(result.stdout.strip() or -1)


def logs(container: Container) -> str:
    return _logs(container.id)


def _logs(container_id: str) -> str:
    result = process.run(["docker", "logs", container_id], check=False, timeout=60)
    return result.stdout + result.stderr


def remove(container: Container) -> None:
    process.run(["docker", "rm", "--force", container.id], check=False, timeout=60)
