"""A builder's nodes and platforms, read from ``docker buildx inspect`` as captured
on this machine (tests/unit/data/buildx), and what the preflight makes of them."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import pytest

from containerize import cli, process
from containerize.engine import builders, buildx, doctor, preflight, probes
from containerize.errors import CommandError, EngineError
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


# --- remote and kubernetes builders: they cannot run here; their buildx output was
# captured from real builders created with a DOCKER_CONFIG of their own (buildx 0.13.1):
#   docker buildx create --name farm --driver kubernetes --node amd --platform linux/amd64
#     --driver-opt namespace=ci,nodeselector=kubernetes.io/arch=amd64
#   docker buildx create --name farm --append --driver kubernetes --node arm
#     --platform linux/arm64 --driver-opt namespace=ci,nodeselector=kubernetes.io/arch=arm64
#   docker buildx create --name tlsfarm --driver remote --node amd --platform linux/amd64
#     --driver-opt cacert=...,cert=...,key=...,servername=amd-host tcp://127.0.0.1:1234
#   (and --append --node arm ... tcp://127.0.0.1:1235), then 'docker buildx inspect NAME'
#   and 'docker buildx ls --format json'.

KUBERNETES_NODES = [
    ("amd", "kubernetes:///farm?deployment=amd&kubeconfig=%2Ftmp%2Frunners-h%2Fkube%2Fconfig",
     "inactive", ("linux/amd64",)),
    ("arm", "kubernetes:///farm?deployment=arm&kubeconfig=%2Ftmp%2Frunners-h%2Fkube%2Fconfig",
     "inactive", ("linux/arm64",)),
]  # fmt: skip


def test_a_kubernetes_builder_with_an_amd64_and_an_arm64_node_builds_each_natively() -> None:
    info = inspect("kubernetes-two-nodes.txt")
    assert (info.name, info.driver, info.status, info.error) == (
        "farm",
        "kubernetes",
        "inactive",
        "",
    )
    assert [(n.name, n.endpoint, n.status, n.platforms) for n in info.nodes] == KUBERNETES_NODES
    assert [n.options() for n in info.nodes] == [
        "namespace=ci nodeselector=kubernetes.io/arch=amd64",
        "namespace=ci nodeselector=kubernetes.io/arch=arm64",
    ]
    assert info.platforms == ("linux/amd64", "linux/arm64")
    assert info.where(LINUX_AMD64) == "native on node amd"
    assert info.where(LINUX_ARM64) == "native on node arm"
    assert not info.emulated(LINUX_AMD64)
    assert not info.emulated(LINUX_ARM64)


def test_a_remote_builder_over_tls_keeps_each_nodes_options() -> None:
    info = inspect("remote-tls-two-nodes.txt")
    assert info.driver == "remote"
    assert [(n.name, n.endpoint, n.platforms) for n in info.nodes] == [
        ("amd", "tcp://127.0.0.1:1234", ("linux/amd64",)),
        ("arm", "tcp://127.0.0.1:1235", ("linux/arm64",)),
    ]
    # buildx prints the options in no fixed order: they are read as pairs.
    assert [n.options() for n in info.nodes] == [
        "cacert=/etc/buildkit/ca.pem cert=/etc/buildkit/cert.pem key=/etc/buildkit/key.pem "
        "servername=amd-host",
        "cacert=/etc/buildkit/ca.pem cert=/etc/buildkit/cert.pem key=/etc/buildkit/key.pem "
        "servername=arm-host",
    ]
    assert info.where(LINUX_ARM64) == "native on node arm"


def test_buildx_ls_json_lists_each_builder_once_with_what_inspect_says() -> None:
    # buildx 0.13 prints a builder's line once more for each of its nodes.
    text = (DATA / "ls-kubernetes-remote-docker.json").read_text()
    assert [json.loads(line)["Name"] for line in text.splitlines()] == (
        ["farm"] * 3 + ["tlsfarm"] * 3 + ["default"] * 2
    )
    listed = builders.parse_ls(text + "not json\n")
    assert [(b.name, b.driver, b.status) for b in listed] == [
        ("farm", "kubernetes", "inactive"),
        ("tlsfarm", "remote", "inactive"),
        ("default", "docker", "running"),
    ]
    farm, tlsfarm, default = listed
    assert [(n.name, n.endpoint, n.status, n.platforms) for n in farm.nodes] == KUBERNETES_NODES
    inspected = inspect("kubernetes-two-nodes.txt")
    assert [n.options() for n in farm.nodes] == [n.options() for n in inspected.nodes]
    assert farm.platforms == inspected.platforms
    assert [n.options() for n in tlsfarm.nodes] == [
        n.options() for n in inspect("remote-tls-two-nodes.txt").nodes
    ]
    assert default.nodes == inspect("docker-driver.txt").nodes
    assert default.where(LINUX_ARM64) == "under emulation on node default (no node is arm64)"


def _missing_builder(monkeypatch: pytest.MonkeyPatch, name: str) -> list[list[str]]:
    """buildx as it answers for a builder *name* it does not know; the commands asked."""
    asked: list[list[str]] = []
    listing = (DATA / "ls-kubernetes-remote-docker.json").read_text()

    def run(argv: list[str], **options: object) -> process.Completed:
        asked.append(list(argv))
        if argv[:3] == ["docker", "buildx", "inspect"]:
            raise CommandError(
                "command failed with exit code 1",
                argv=tuple(argv),
                returncode=1,
                output_tail=f'ERROR: no builder "{name}" found',
            )
        if argv[:2] == ["docker", "info"]:  # the daemon answers: the builder is missing
            return process.Completed(argv=tuple(argv), returncode=0, stdout="26.1.5\n", stderr="")
        assert argv == ["docker", "buildx", "ls", "--format", "json"]
        return process.Completed(argv=tuple(argv), returncode=0, stdout=listing, stderr="")

    monkeypatch.setattr(process, "run", run)
    return asked


def test_a_builder_that_does_not_exist_is_named_with_the_ones_that_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = _missing_builder(monkeypatch, "fram")
    with pytest.raises(EngineError) as raised:
        preflight.preflight([LINUX_AMD64, LINUX_ARM64], builder="fram")
    assert raised.value.message == (
        "there is no buildx builder named 'fram'; builders here: farm (kubernetes), "
        "tlsfarm (remote), default (docker); did you mean 'farm'?"
    )
    assert "docker buildx create --name fram" in (raised.value.hint or "")
    assert [argv for argv in asked if argv[1] == "buildx"] == [
        ["docker", "buildx", "inspect", "fram"],
        ["docker", "buildx", "ls", "--format", "json"],
    ]
    (check,) = doctor._builder_checks([LINUX_AMD64], "fram")
    assert check.status == "fail"
    assert check.detail.startswith("there is no buildx builder named 'fram'; builders here: farm")


def test_doctor_lists_a_kubernetes_builders_nodes_and_where_each_platform_builds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = (DATA / "kubernetes-two-nodes.txt").read_text()
    monkeypatch.setattr(buildx, "inspect_builder", lambda builder=None: text)
    riscv = Platform.parse("linux/riscv64")
    checks = {c.name: c for c in doctor._builder_checks([LINUX_AMD64, LINUX_ARM64, riscv], "farm")}
    assert (
        checks["builder"].detail == "farm (driver kubernetes, inactive): linux/amd64, linux/arm64"
    )
    assert checks["node amd"].detail == (
        f"amd ({KUBERNETES_NODES[0][1]}, inactive): linux/amd64; native amd64; "
        "namespace=ci nodeselector=kubernetes.io/arch=amd64"
    )
    assert checks["node arm"].detail.endswith(
        "linux/arm64; native arm64; namespace=ci nodeselector=kubernetes.io/arch=arm64"
    )
    assert (checks["platform linux/amd64"].status, checks["platform linux/amd64"].detail) == (
        "ok",
        "native on node amd",
    )
    assert checks["platform linux/arm64"].detail == "native on node arm"
    assert checks["platform linux/riscv64"].status == "fail"
    assert "builder 'farm' cannot build linux/riscv64" in checks["platform linux/riscv64"].detail
    assert "--push sends it to its registry" in checks["image store"].detail
    # And the build stops before anything runs, naming the nodes there are.
    with pytest.raises(EngineError, match="cannot build for linux/riscv64") as raised:
        preflight.preflight([LINUX_AMD64, riscv], builder="farm")
    assert "its nodes: amd (kubernetes:///farm?deployment=amd" in raised.value.message
    assert "arm (kubernetes:///farm?deployment=arm" in raised.value.message


def test_the_buildx_commands_for_a_kubernetes_builder_push_from_it(
    tmp_path: Path,
    fixtures_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The exact commands a build on the two-node kubernetes builder runs: every one
    names the builder; the image goes to the registry from the builder (--push, never
    --load); the compiled wheels and the contexts travel through buildx (build contexts
    in, the compile's local output back), not through a shared filesystem."""
    project = tmp_path / "app"
    shutil.copytree(fixtures_dir / "psycopg2-app", project)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    code = cli.main(
        ["--project", str(project), "build", "--dry-run", "--push", "--builder", "farm",
         "--platform", "linux/amd64", "--platform", "linux/arm64", "--server", "gunicorn"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    compile_argv, image_argv = (
        shlex.split(line) for line in out.splitlines() if line.startswith("docker buildx ")
    )
    folder = project / ".containerize"
    assert compile_argv == [
        "docker", "buildx", "--builder", "farm", "build", "--progress", "auto",
        "--file", f"{folder}/compile/Dockerfile", "--target", "wheels",
        "--platform", "linux/amd64,linux/arm64",
        "--build-context", f"tools={folder}/tools",
        "--build-context", f"wheelhouse={folder}/wheelhouse",
        "--provenance", "false",
        "--output", f"type=local,dest={folder}/compiled,platform-split=true",
        f"{folder}/compile",
    ]  # fmt: skip
    image = "127.0.0.1:5000/containerize-examples/psycopg2-app"
    assert image_argv[:11] == [
        "docker", "buildx", "--builder", "farm", "build", "--progress", "auto",
        "--file", f"{folder}/context/Dockerfile", "--target", "gunicorn",
    ]  # fmt: skip
    assert image_argv[11:17] == [
        "--platform", "linux/amd64,linux/arm64",
        "--tag", f"{image}:gunicorn", "--tag", f"{image}:1.0.0-gunicorn",
    ]  # fmt: skip
    assert image_argv[-2:] == ["--push", f"{folder}/context"]
    assert "--load" not in image_argv
    assert [image_argv[i + 1] for i, a in enumerate(image_argv) if a == "--build-context"] == [
        f"tools={folder}/tools",
        f"wheelhouse-linux-amd64={folder}/wheelhouse/linux-amd64",
        f"wheelhouse-linux-arm64={folder}/wheelhouse/linux-arm64",
    ]


def test_a_multi_platform_load_into_a_store_that_cannot_hold_it_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(probes, "containerd_image_store", lambda: False)
    with pytest.raises(EngineError, match="cannot load a multi-platform image") as raised:
        preflight.choose_output([LINUX_AMD64, LINUX_ARM64], push=False)
    assert "build with --push" in (raised.value.hint or "")
    assert preflight.choose_output([LINUX_AMD64, LINUX_ARM64], push=True) == "push"
    assert preflight.choose_output([LINUX_AMD64], push=False) == "load"
