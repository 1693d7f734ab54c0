"""The vertical slice: lock -> wheelhouse -> multi-stage build -> container -> HTTP.

Every image is really built by BuildKit for linux/amd64 and linux/arm64 (arm64 under
qemu), started with its port published on 127.0.0.1, asked for ``/``, and stopped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from containerize import config, process
from containerize.commands.machine import machine
from containerize.engine import containers, preflight
from containerize.errors import ContainerTestError
from containerize.image import pipeline as images
from containerize.image import report
from containerize.platforms import LINUX_AMD64, LINUX_ARM64, Platform

logger = logging.getLogger("containerize.tests")

SERVERS = ("gunicorn", "uwsgi", "mod_wsgi", "cheroot")
PLATFORMS = (LINUX_AMD64, LINUX_ARM64)


@dataclass(frozen=True)
class Built:
    project: Path
    image: str
    prepared: images.Prepared
    summaries: tuple[report.TargetSummary, ...]

    def tag(self, server: str) -> str:
        return f"{self.image}:{server}"


@pytest.fixture(scope="session")
def hello_images(hello_project: Path, base_image: str, session_id: str) -> Iterator[Built]:
    image = f"containerize-test/hello-{session_id}"
    cfg = config.load(hello_project, overrides={"image": image})
    preflight.preflight(cfg.platforms, builder=cfg.builder)
    prepared = images.prepare(
        cfg,
        machine(engine=True),
        output=preflight.choose_output(cfg.platforms, push=False),
    )
    summaries = images.build(prepared.invocations)
    for summary in summaries:
        logger.info(
            "built %s in %.1fs: %s %s", summary.server, summary.seconds, summary.tags, summary.sizes
        )
    yield Built(project=hello_project, image=image, prepared=prepared, summaries=tuple(summaries))
    for inv in prepared.invocations:
        process.run(["docker", "image", "rm", "--force", *inv.tags], check=False)


@pytest.mark.parametrize("platform", PLATFORMS, ids=str)
@pytest.mark.parametrize("server", SERVERS)
def test_serves_hello_world(hello_images: Built, server: str, platform: Platform) -> None:
    container = containers.start(hello_images.tag(server), platform=platform, port=8000)
    try:
        response = containers.get(container, "/", timeout=180)
        assert response.status == 200
        assert response.body == b"Hello World!"
        arch = process.run(
            ["docker", "exec", container.id, "python3", "-c",
             "import platform; print(platform.machine())"]
        ).stdout.strip()  # fmt: skip
        assert arch == platform.machine
        stopped = containers.stop(container, timeout=20)
        logger.info(
            "%s on %s: stopped with exit code %d in %.1fs",
            server, platform, stopped.exit_code, stopped.seconds,
        )  # fmt: skip
        assert not stopped.killed, "the server ignored its stop signal and was killed"
        assert not containers.running(container)
    finally:
        containers.remove(container)


def test_host_network_serves_on_the_hosts_port_and_refuses_a_taken_one(
    hello_images: Built,
) -> None:
    """The bench's way of running a server: on the host's network, where a load of short
    connections does not go through the engine's proxy."""
    image = hello_images.tag("gunicorn")
    container = containers.start(image, platform=LINUX_AMD64, port=8000, host_network=True)
    try:
        assert (container.host, container.port) == ("127.0.0.1", 8000)
        response = containers.get(container, "/", timeout=60)
        assert (response.status, response.body) == (200, b"Hello World!")
        with pytest.raises(ContainerTestError, match="port 8000 of this host is taken"):
            containers.start(image, platform=LINUX_AMD64, port=8000, host_network=True)
    finally:
        containers.remove(container)


@pytest.mark.parametrize("server", SERVERS)
def test_runtime_image_is_lean_and_unprivileged(hello_images: Built, server: str) -> None:
    tag = hello_images.tag(server)
    inspected = json.loads(process.run(["docker", "image", "inspect", tag]).stdout)[0]
    assert inspected["Config"]["User"] == "10001:10001"
    script = (
        "id -u; "
        "for tool in pip pip3 gcc cc make apxs apxs2; do "
        "  command -v $tool && echo FOUND-$tool; done; "
        "for path in /opt/venv/bin/pip /opt/containerize/pip /root/.cache/pip /home/app/.cache/pip "
        "  /wheelhouse /usr/include/python3.11; do "
        "  test -e $path && echo FOUND-$path; done; "
        "/opt/venv/bin/python -c 'import pip' 2>/dev/null && echo FOUND-pip-module; "
        "touch /home/app/writable && echo HOME-WRITABLE; "
        "touch /app/x 2>/dev/null && echo APP-WRITABLE; true"
    )
    out = process.run(["docker", "run", "--rm", "--entrypoint", "sh", tag, "-c", script]).stdout
    lines = out.split()
    assert lines[0] == "10001"
    assert [line for line in lines if line.startswith("FOUND")] == []
    assert "HOME-WRITABLE" in lines
    assert "APP-WRITABLE" not in lines


@pytest.mark.parametrize("platform", PLATFORMS, ids=str)
def test_the_user_written_natively_is_the_targets(hello_images: Built, platform: Platform) -> None:
    """The users stage runs on the build platform from the target's own account files:
    every platform's image knows the user, keeps the base's accounts and owns its home."""
    script = "id -un; id -gn; stat -c %u:%g:%a /home/app; grep -c '^root:' /etc/passwd"
    out = process.run(
        ["docker", "run", "--rm", "--platform", str(platform), "--entrypoint", "sh",
         hello_images.tag("gunicorn"), "-c", script]
    ).stdout.split()  # fmt: skip
    assert out == ["app", "app", "10001:10001:750", "1"]


def test_summary_gives_the_loaded_size_from_the_image_store(hello_images: Built) -> None:
    """A loaded image's sizes are the image store's, every platform (the other
    platforms' manifests read from 'docker save'); a pushed image's come from the
    registry."""
    for summary in hello_images.summaries:
        assert [name for name, _ in summary.sizes] == ["linux/amd64", "linux/arm64"]
        assert all((size or 0) > 10 * 2**20 for _, size in summary.sizes), summary
        assert "size not read" not in str(summary)


def test_labels_and_base_pin(hello_images: Built) -> None:
    tag = hello_images.tag("gunicorn")
    labels = json.loads(process.run(["docker", "image", "inspect", tag]).stdout)[0]["Config"][
        "Labels"
    ]
    assert labels["org.opencontainers.image.version"] == "1.0.0"
    assert labels["org.opencontainers.image.base.digest"].startswith("sha256:")
    pins = (hello_images.project / "containerize.lock").read_text()
    assert labels["org.opencontainers.image.base.digest"] in pins
