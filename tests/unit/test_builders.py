"""A builder's nodes and platforms, read from ``docker buildx inspect`` as captured
on this machine (tests/unit/data/buildx), and what the preflight makes of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from containerize import process
from containerize.engine import builders, buildx, preflight
from containerize.errors import EngineError
from containerize.platforms import LINUX_AMD64, LINUX_ARM64, Platform

DATA = Path(__file__).parent / "data" / "buildx"


def inspect(name: str) -> builders.BuilderInfo:
    return builders.parse_inspect((DATA / name).read_text())


def test_the_docker_driver_has_one_node_native_to_amd64_emulating_arm64() -> None:
    info = inspect("docker-driver.txt")
    assert (info.name, info.driver, info.status, info.error) == (
        "default",
        "docker",
        "running",
        "",
    )
    (node,) = info.nodes
    assert (node.name, node.endpoint, node.status) == ("default", "default", "running")
    assert node.platforms == (
        "linux/amd64",
        "linux/amd64/v2",
        "linux/amd64/v3",
        "linux/amd64/v4",
        "linux/arm64",
    )
    assert node.native_arch == "amd64"
    assert info.platforms == node.platforms
    assert not info.emulated(LINUX_AMD64)
    assert info.emulated(LINUX_ARM64)
    assert info.where(LINUX_AMD64) == "native on node default"
    assert info.where(LINUX_ARM64) == "under emulation on node default (no node is arm64)"


def test_a_remote_builder_with_an_amd64_and_an_arm64_node_builds_both_natively() -> None:
    # Two nodes made with --platform (marked '*'), not yet started.
    info = inspect("remote-two-nodes.txt")
    assert info.driver == "remote"
    assert [(n.name, n.endpoint, n.status, n.platforms) for n in info.nodes] == [
        ("amd-node", "tcp://127.0.0.1:1234", "inactive", ("linux/amd64",)),
        ("arm-node", "tcp://127.0.0.1:1235", "inactive", ("linux/arm64",)),
    ]
    assert info.platforms == ("linux/amd64", "linux/arm64")
    assert info.where(LINUX_AMD64) == "native on node amd-node"
    assert info.where(LINUX_ARM64) == "native on node arm-node"
    assert not info.emulated(LINUX_ARM64)
    assert info.where(Platform.parse("linux/riscv64")) == "on no node"


def test_no_daemon_leaves_an_error_and_no_node() -> None:
    info = inspect("no-daemon.txt")
    assert info.error.startswith("Cannot connect to the Docker daemon at unix:///tmp/nothing.sock")
    assert info.nodes == ()
    assert info.platforms == ()


def test_a_builder_without_a_node_for_a_platform_stops_before_anything_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = (DATA / "remote-two-nodes.txt").read_text()
    monkeypatch.setattr(buildx, "inspect_builder", lambda builder=None: text)
    riscv = Platform.parse("linux/riscv64")
    with pytest.raises(EngineError, match="cannot build for linux/riscv64") as info:
        preflight.preflight([LINUX_AMD64, riscv], builder="cz-capture-27489")
    assert "its nodes: amd-node (tcp://127.0.0.1:1234, inactive): linux/amd64; arm-node" in (
        info.value.message
    )
    preflight.preflight([LINUX_AMD64, LINUX_ARM64], builder="cz-capture-27489")


@pytest.mark.parametrize(
    ("builder", "argv"),
    [
        (None, ["docker", "buildx", "inspect"]),
        ("farm", ["docker", "buildx", "inspect", "farm"]),
    ],
)
def test_inspect_asks_for_the_named_builder(
    builder: str | None, argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[str]] = []

    class Done:
        stdout = ""

    def run(argv: list[str], **kwargs: object) -> Done:
        seen.append(list(argv))
        return Done()

    monkeypatch.setattr(process, "run", run)
    buildx.inspect_builder(builder)
    assert seen == [argv]


def test_a_builder_named_after_another_docker_context_stops_with_the_way_to_use_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = (DATA / "docker-driver.txt").read_text().replace("default", "containerize-second")
    monkeypatch.setattr(buildx, "inspect_builder", lambda builder=None: text)
    monkeypatch.setattr(buildx, "current_context", lambda: "default")
    with pytest.raises(EngineError, match="not the current one") as info:
        preflight.preflight([LINUX_AMD64], builder="containerize-second")
    assert "DOCKER_CONTEXT=containerize-second" in (info.value.hint or "")
    # The current context's own builder, or any driver but docker, goes on.
    monkeypatch.setattr(buildx, "current_context", lambda: "containerize-second")
    preflight.preflight([LINUX_AMD64], builder="containerize-second")
    preflight.preflight([LINUX_AMD64], builder=None)
