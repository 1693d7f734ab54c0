"""A cell's services: a private network, the services started on it and waited for.

Each cell gets a network of its own, named for the run and the cell, so two cells (or
two runs) never share a database. A service is reachable there under its name
(``db``), which is why the app's ``app-env`` writes ``@db:5432``. The app's container
joins the same network. Whatever happens, :meth:`Running.remove` (the runner's
``finally``) removes the services and then the network; the run's label lets the run
remove what an interrupted cell left.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from containerize import process
from containerize.engine import containers
from containerize.errors import CommandError
from containerize.matrix.checks import Failed
from containerize.matrix.plan import Cell
from containerize.testsettings import Service

_READY_INTERVAL = 1.0


@dataclass(kw_only=True)
class Running:
    """A cell's network and the services started on it so far (name, container id)."""

    network: str
    started: list[tuple[str, str]] = field(default_factory=list)

    def remove(self) -> None:
        """Remove every service, then the network; never raises for what is gone."""
        for _, container_id in self.started:
            containers.remove_service(container_id)
        containers.remove_network(self.network)


def network_name(cell: Cell, run_id: str) -> str:
    """``containerize-RUN-gunicorn-linux-amd64``: unique per run and cell."""
    return f"containerize-{run_id}-{cell.slug}"


def start(cell: Cell, *, run_id: str) -> Running:
    """Create the cell's network and start its services on it, each waited for.

    Raises :class:`Failed` naming the service that did not start or get ready, with
    its log; what was started is removed first.
    """
    running = Running(network=network_name(cell, run_id))
    try:
        containers.create_network(running.network, run_id=run_id)
    except CommandError as exc:
        raise Failed(
            f"could not create network {running.network}: {exc}", exc.output_tail
        ) from None
    try:
        for service in cell.settings.services:
            try:
                container_id = containers.start_service(
                    service.image,
                    name=service.name,
                    network=running.network,
                    env=dict(service.env),
                    command=service.command,
                    run_id=run_id,
                )
            except CommandError as exc:
                raise Failed(
                    f"service {service.name!r} ({service.image}) did not start",
                    exc.output_tail + _image_hint(service),
                ) from None
            running.started.append((service.name, container_id))
        for service, (_, container_id) in zip(cell.settings.services, running.started, strict=True):
            _wait(service, container_id, cell=cell, network=running.network)
    except BaseException:
        running.remove()
        raise
    return running


def summary(cell: Cell) -> str:
    return ", ".join(f"{s.name} ({s.image}, port {s.port})" for s in cell.settings.services)


def _wait(service: Service, container_id: str, *, cell: Cell, network: str) -> None:
    """Until *service* is ready: its ``ready`` command exits 0 inside it, or else a
    container of the cell's image connects to its port over the network."""
    timeout = float(service.ready_timeout)
    began = time.monotonic()
    if service.ready:
        last = ""
        while time.monotonic() - began < timeout:
            if not containers.service_running(container_id):
                raise _exited(service, container_id)
            result = containers.service_exec(container_id, service.ready, timeout=timeout)
            if result.returncode == 0:
                return
            last = process.tail(result.stdout + result.stderr, 5)
            time.sleep(_READY_INTERVAL)
        raise Failed(
            f"service {service.name!r} was not ready within {timeout:g}s: "
            f"{process.quote(service.ready)} kept failing",
            f"its last answer:\n{last}\nits log:\n"
            + process.tail(containers.service_logs(container_id), 20),
        )
    result = containers.wait_tcp(
        network=network,
        host=service.name,
        port=service.port,
        timeout=timeout,
        image=cell.image,
        platform=cell.platform,
    )
    if result.returncode != 0:
        if not containers.service_running(container_id):
            raise _exited(service, container_id)
        raise Failed(
            f"service {service.name!r} did not accept a connection on port {service.port} "
            f"within {timeout:g}s",
            process.tail(result.stdout + result.stderr, 5)
            + "\nits log:\n"
            + process.tail(containers.service_logs(container_id), 20)
            + "\n(is port right? or raise its ready-timeout)",
        )


def _exited(service: Service, container_id: str) -> Failed:
    return Failed(
        f"service {service.name!r} ({service.image}) exited before it was ready",
        "its log:\n" + process.tail(containers.service_logs(container_id), 20),
    )


def _image_hint(service: Service) -> str:
    return (
        f"\n{service.image} could not be run: where the official images cannot be "
        "pulled, 'containerize service-image postgres' (or redis) builds one from "
        "Debian's packages into 127.0.0.1:5000 (127.0.0.1:5000/containerize/postgres:"
        "15-bookworm, .../redis:7-bookworm): name that in image"
    )
