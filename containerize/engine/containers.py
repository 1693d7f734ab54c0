"""Real containers: start an image with its port on 127.0.0.1, speak HTTP to it, stop it.

Requests only ever go to the loopback address the engine published the port on, and
every wait is bounded in attempts and time. Every container started here carries the
label :data:`LABEL`, so what an interrupted run left behind can be found and removed.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from containerize import process
from containerize.engine import docker
from containerize.errors import ContainerTestError
from containerize.platforms import Platform

logger = logging.getLogger("containerize")

#: The label on every container containerize starts; its value names the run.
LABEL = "io.containerize.test-run"
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True, kw_only=True)
class Container:
    """A started container and where its port is published."""

    id: str
    image: str
    platform: Platform
    host: str
    port: int  # 0: it exited before its port was published

    @property
    def name(self) -> str:
        return f"{self.image} ({self.platform})"


@dataclass(frozen=True, kw_only=True)
class Request:
    """What was asked, for a report: ``GET /path`` with its Host."""

    method: str
    path: str
    host: str

    def __str__(self) -> str:
        return f"{self.method} {self.path} (Host: {self.host})"


@dataclass(frozen=True, kw_only=True)
class Response:
    """An HTTP answer, and how long it took to get one."""

    request: Request
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]
    attempts: int
    seconds: float

    def header(self, name: str) -> str | None:
        """The value of header *name* (case-insensitive), or None."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def describe(self, body_bytes: int = 300) -> str:
        """The request and the response, as a failure report shows them."""
        heads = "".join(f"\n    {k}: {v}" for k, v in self.headers)
        body = self.body[:body_bytes].decode("utf-8", "replace")
        more = f" ... ({len(self.body)} bytes)" if len(self.body) > body_bytes else ""
        return f"{self.request}\n  -> {self.status}{heads}\n  body: {body!r}{more}"


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
    memory: str | None = None,
    read_only: bool = False,
    tmpfs: Sequence[str] = (),
    run_id: str = "adhoc",
    pull: bool = True,
    host_network: bool = False,
    network: str | None = None,
    timeout: float = 300,
) -> Container:
    """``docker run -d`` *image* with container port *port* published on 127.0.0.1.

    Without *pull*, only an image the engine holds is run: a tag just built is never
    replaced by an older one of the same name from a registry.

    With *host_network*, the container shares the host's network and listens on *port*
    of the host itself, which must be free: no proxy and no NAT between a client and
    the server, and loopback's reuse of closed connections' ports (``tcp_tw_reuse``),
    which a load of short connections, many thousands a second, runs out of otherwise.
    With *network*, it joins that network (a cell's private one, where its services are)
    and its port is still published on 127.0.0.1.
    """
    args = ["run", "--detach", "--platform", str(platform), "--label", f"{LABEL}={run_id}"]
    args += ["--pull", "missing" if pull else "never"]
    if host_network:
        _require_free(port)
        args += ["--network", "host"]
    else:
        args += ["--publish", f"{LOOPBACK}::{port}"]
        if network is not None:
            args += ["--network", network]
    # Each variable by name: docker takes its value from its own environment, so no
    # value (a test secret) is on the command line or in the log of it.
    for key in env or {}:
        args += ["--env", key]
    if cpus is not None:
        args += ["--cpus", f"{cpus:g}"]
    if memory is not None:  # docker's size: '256m'
        args += ["--memory", memory]
    if read_only:
        args.append("--read-only")
    for path in tmpfs:
        args += ["--tmpfs", path]
    container_id = docker.run(*args, image, timeout=timeout, env=dict(env or {})).stdout.strip()
    if host_network:
        return Container(id=container_id, image=image, platform=platform, host=LOOPBACK, port=port)
    mapping = docker.run("port", container_id, f"{port}/tcp", check=False, timeout=30).stdout
    # The IPv4 line: "127.0.0.1:49153".
    host, _, host_port = (mapping.splitlines() or [""])[0].rpartition(":")
    if not host_port.isdigit():
        done = docker.run(
            "inspect", "--format", "{{.State.Running}}", container_id, check=False, timeout=60
        )
        if done.stdout.strip() == "false":
            # It exited before its port was read (a start-up that stops at once, as a
            # bad setting does): the caller sees it exit, with its code and its log.
            return Container(id=container_id, image=image, platform=platform, host=LOOPBACK, port=0)
        log = process.tail(_logs(container_id), 20)
        docker.run("rm", "--force", container_id, check=False, timeout=60)
        raise ContainerTestError(
            f"{image} ({platform}): port {port} was not published ({mapping.strip()!r})",
            hint="its log:\n" + log,
        )
    return Container(
        id=container_id, image=image, platform=platform, host=host, port=int(host_port)
    )


def _require_free(port: int) -> None:
    """Stop when something on this host listens on *port* already."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))  # noqa: S104 - as the servers bind it
        except OSError as exc:
            raise ContainerTestError(
                f"port {port} of this host is taken ({exc.strerror}); a container on the "
                "host's network listens there",
                hint=f"stop what listens on it (ss -ltnp 'sport = :{port}') and run again",
            ) from None


def request(
    container: Container,
    path: str = "/",
    *,
    host: str = "localhost",
    method: str = "GET",
    timeout: float = 10.0,
) -> Response:
    """One request; raises OSError or HTTPException when no answer comes."""
    began = time.monotonic()
    connection = http.client.HTTPConnection(container.host, container.port, timeout=timeout)
    try:
        connection.request(method, path, headers={"Host": host})
        answer = connection.getresponse()
        body = answer.read()
    finally:
        connection.close()
    return Response(
        request=Request(method=method, path=path, host=host),
        status=answer.status,
        body=body,
        headers=tuple(answer.getheaders()),
        attempts=1,
        seconds=time.monotonic() - began,
    )


def get(
    container: Container,
    path: str = "/",
    *,
    timeout: float = 120.0,
    interval: float = 0.5,
    host: str = "localhost",
) -> Response:
    """GET *path* with *host* as Host until the server answers, for at most *timeout* s.

    Stops early, with the container's log, when the container exits.
    """
    start_time = time.monotonic()
    attempts = 0
    last_error = "no attempt made"
    while time.monotonic() - start_time < timeout:
        attempts += 1
        try:
            answer = request(container, path, host=host)
        except (OSError, http.client.HTTPException) as exc:
            last_error = f"{type(exc).__name__}: {exc}"
        else:
            response = Response(
                request=answer.request,
                status=answer.status,
                body=answer.body,
                headers=answer.headers,
                attempts=attempts,
                seconds=time.monotonic() - start_time,
            )
            logger.info(
                "GET http://%s:%d%s -> %d %r (%s, attempt %d, %.1fs)",
                container.host, container.port, path, response.status, response.body[:60],
                container.platform, attempts, response.seconds,
            )  # fmt: skip
            return response
        if not running(container):
            raise ContainerTestError(
                f"{container.name} exited before answering HTTP (exit code {exit_code(container)})",
                hint="its log:\n" + process.tail(logs(container), 20),
            )
        time.sleep(interval)
    raise ContainerTestError(
        f"{container.name} did not answer GET {path} on {container.host}:{container.port} "
        f"within {timeout:g}s ({last_error})",
        hint="its log:\n" + process.tail(logs(container), 20),
    )


def state(container: Container) -> dict[str, Any]:
    """The engine's ``.State`` of *container*."""
    result = docker.run("inspect", "--format", "{{json .State}}", container.id, timeout=60)
    value = json.loads(result.stdout)
    return value if isinstance(value, dict) else {}


def running(container: Container) -> bool:
    result = docker.run(
        "inspect", "--format", "{{.State.Running}}", container.id, check=False, timeout=60
    )
    return result.stdout.strip() == "true"


def exit_code(container: Container) -> int:
    return int(state(container).get("ExitCode", -1))


def inspect(container: Container, *, size: bool = False) -> dict[str, Any]:
    """``docker container inspect`` of *container*; with *size*, ``SizeRootFs`` too."""
    args = ["container", "inspect", *(["--size"] if size else []), container.id]
    value = json.loads(docker.run(*args, timeout=120).stdout)
    return value[0] if isinstance(value, list) and value else {}


def stop(container: Container, *, timeout: int = 10) -> Stopped:
    """``docker stop``: the image's STOPSIGNAL, then SIGKILL after *timeout* seconds."""
    began = time.monotonic()
    docker.run("stop", "--time", str(timeout), container.id, timeout=timeout + 60)
    seconds = time.monotonic() - began
    code = exit_code(container)
    return Stopped(exit_code=code, seconds=seconds, killed=code == 137)


def processes(container: Container) -> list[tuple[str, str]]:
    """(user, command line) of every process in *container*, PID 1 first."""
    out = docker.run("top", container.id, "-o", "pid,user,args", timeout=60).stdout
    rows = [line.split(None, 2) for line in out.splitlines()[1:] if line.strip()]
    return [
        (row[1], row[2] if len(row) > 2 else "") for row in sorted(rows, key=lambda r: int(r[0]))
    ]


def execute(
    container: Container, argv: Sequence[str], *, timeout: float = 120
) -> process.Completed:
    """Run *argv* inside *container* as its own user; never raises on a non-zero exit."""
    return docker.run("exec", container.id, *argv, check=False, timeout=timeout)


def wait_exited(container: Container, *, timeout: float) -> int:
    """The exit code of *container* once it has stopped on its own."""
    result = docker.run("wait", container.id, timeout=timeout, check=False)
    return int(result.stdout.strip() or -1)


def logs(container: Container) -> str:
    return _logs(container.id)


def _logs(container_id: str) -> str:
    result = docker.run("logs", container_id, check=False, timeout=60)
    return result.stdout + result.stderr


def remove(container: Container) -> None:
    docker.run("rm", "--force", container.id, check=False, timeout=60)


def remove_run(run_id: str) -> int:
    """Remove every container and network of run *run_id*, however it ended; how many
    containers there were."""
    listed = docker.run(
        "ps", "--all", "--quiet", "--filter", f"label={LABEL}={run_id}", check=False, timeout=60
    ).stdout.split()
    if listed:
        docker.run("rm", "--force", *listed, check=False, timeout=120)
    networks = docker.run(
        "network", "ls", "--quiet", "--filter", f"label={LABEL}={run_id}", check=False, timeout=60
    ).stdout.split()
    if networks:
        docker.run("network", "rm", *networks, check=False, timeout=120)
    return len(listed)


# --------------------------------------------------------------------------- services


def create_network(name: str, *, run_id: str) -> str:
    """``docker network create`` a bridge network *name*, labelled with the run."""
    docker.run("network", "create", "--label", f"{LABEL}={run_id}", name, timeout=60)
    return name


def remove_network(name: str) -> None:
    docker.run("network", "rm", name, check=False, timeout=60)


def start_service(
    image: str,
    *,
    name: str,
    network: str,
    env: Mapping[str, str],
    command: Sequence[str] = (),
    run_id: str,
    timeout: float = 300,
) -> str:
    """``docker run -d`` a service on *network*, where *name* is its host name; no port
    is published: only the cell's containers reach it. It runs on this machine's own
    platform: it is not under test, and an emulated database would only be slow."""
    args = ["run", "--detach", "--label", f"{LABEL}={run_id}"]
    args += ["--pull", "missing", "--network", network, "--network-alias", name]
    for key in env:  # by name, as in start(): no value on the command line
        args += ["--env", key]
    return docker.run(*args, image, *command, timeout=timeout, env=dict(env)).stdout.strip()


def service_running(container_id: str) -> bool:
    result = docker.run(
        "inspect", "--format", "{{.State.Running}}", container_id, check=False, timeout=60
    )
    return result.stdout.strip() == "true"


def service_exec(container_id: str, argv: Sequence[str], *, timeout: float) -> process.Completed:
    """Run *argv* inside a service; never raises on a non-zero exit."""
    return docker.run("exec", container_id, *argv, check=False, timeout=timeout)


def service_logs(container_id: str) -> str:
    return _logs(container_id)


def remove_service(container_id: str) -> None:
    docker.run("rm", "--force", "--volumes", container_id, check=False, timeout=60)


#: Connects to argv[1]:argv[2] until it can or argv[3] seconds have passed (exit 1).
_CONNECT = (
    "import socket,sys,time\n"
    "end=time.monotonic()+float(sys.argv[3])\n"
    "while True:\n"
    " try:\n"
    "  socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=2).close();break\n"
    " except OSError as e:\n"
    "  if time.monotonic()>end:sys.exit(f'{sys.argv[1]}:{sys.argv[2]}: {e}')\n"
    "  time.sleep(0.5)\n"
)


def wait_tcp(
    *, network: str, host: str, port: int, timeout: float, image: str, platform: Platform
) -> process.Completed:
    """Connect to *host*:*port* from a container of *image* (which has python3) on
    *network*, for at most *timeout* seconds; the run's result, never raising on exit 1."""
    return docker.run(
        "run", "--rm", "--platform", str(platform), "--pull", "missing", "--network", network,
        "--entrypoint", "python3", image, "-c", _CONNECT, host, str(port), f"{timeout:g}",
        check=False, timeout=timeout + 120,
    )  # fmt: skip
