"""``containerize doctor``: check the engine a build needs, each problem with its fix."""

from __future__ import annotations

import os
import re
import shutil
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from containerize import process, reference
from containerize.engine import builders, docker, probes
from containerize.engine import buildx as buildx_mod
from containerize.engine.builders import BuilderInfo, parse_inspect
from containerize.errors import CommandError
from containerize.platforms import Platform

Status = Literal["ok", "warn", "fail"]

_PROVISION_FIX = "as root on Debian, 'containerize engine up' provisions it"


@dataclass(frozen=True, kw_only=True)
class Check:
    """One finding."""

    name: str
    status: Status
    detail: str
    fix: str | None = None

    def __str__(self) -> str:
        mark = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}[self.status]
        text = f"[{mark}] {self.name}: {self.detail}"
        if self.fix and self.status != "ok":
            text += f"\n       fix: {self.fix}"
        return text


def run_checks(
    *,
    platforms: Sequence[Platform],
    builder: str | None = None,
    registry: str | None = None,
) -> list[Check]:
    """Run every check that can run; each missing piece is reported with its fix."""
    docker_path = shutil.which(docker.BINARY)
    if docker_path is None:
        checks = [
            Check(
                name="docker CLI",
                status="fail",
                detail="'docker' is not on PATH",
                fix=f"install the Docker CLI; {_PROVISION_FIX}",
            )
        ]
        checks += [_emulation_check(p) for p in platforms]
        return checks + ([_registry_check(registry)] if registry else [])
    # 'docker version' exits non-zero without a daemon but still prints the client.
    client = process.run(
        docker.argv("version", "--format", "{{.Client.Version}}"), check=False, timeout=30
    ).stdout.strip()
    checks = [Check(name="docker CLI", status="ok", detail=f"{docker_path} {client}")]

    server = _version(docker.argv("version", "--format", "{{.Server.Version}}"))
    if server is None:
        checks.append(
            Check(
                name="engine",
                status="fail",
                detail="no Docker daemon answers (docker version shows no server)",
                fix=f"start dockerd, or set DOCKER_HOST; {_PROVISION_FIX}",
            )
        )
    else:
        checks.append(Check(name="engine", status="ok", detail=f"dockerd {server}"))

    buildx = _version(docker.buildx_argv("version"))
    if buildx is None:
        checks.append(
            Check(
                name="buildx",
                status="fail",
                detail="the buildx plugin is missing",
                fix="install docker-buildx into ~/.docker/cli-plugins/ or "
                f"/usr/libexec/docker/cli-plugins/; {_PROVISION_FIX}",
            )
        )
    else:
        checks.append(_buildx_version_check(buildx))

    if server is not None and buildx is not None:
        checks += _builder_checks(platforms, builder)
    else:
        # Without a builder to ask, say at least what the kernel can run.
        checks += [_emulation_check(p) for p in platforms]
    if registry:
        checks.append(_registry_check(registry))
    return checks


def _builder_checks(platforms: Sequence[Platform], builder: str | None) -> list[Check]:
    try:
        info = parse_inspect(buildx_mod.inspect_builder(builder))
    except CommandError as exc:
        missing = builder and f'no builder "{builder}" found' in exc.output_tail
        return [
            Check(
                name="builder",
                status="fail",
                detail=f"there is no buildx builder named {builder!r}"
                + builders.missing(builder, buildx_mod.list_builders())
                if missing and builder
                else f"builder {builder or 'default'!r} cannot be inspected: "
                f"{process.tail(exc.output_tail, 1)}",
                fix="list builders with 'docker buildx ls'; create one with "
                "'docker buildx create --name NAME'",
            )
        ]
    checks = [
        Check(
            name="builder",
            status="ok" if info.status == "running" else "warn",
            detail=f"{info.name} (driver {info.driver}, {info.status}): "
            f"{', '.join(info.platforms) or 'no platforms reported'}",
        )
    ]
    checks += [
        Check(
            name=f"node {node.name}",
            status="ok" if node.status in ("running", "inactive") else "warn",
            detail=f"{node.describe()}; native {node.native_arch or 'unknown'}"
            + (f"; {node.options()}" if node.driver_options else ""),
        )
        for node in info.nodes
    ]
    checks += [_platform_check(platform, info) for platform in platforms]
    checks.append(_image_store_check(info, platforms))
    return checks


def _emulation_check(platform: Platform) -> Check:
    name = f"platform {platform}"
    if _native(platform):
        return Check(name=name, status="ok", detail="native")
    if probes.emulator_enabled(platform.arch):
        return Check(name=name, status="ok", detail="qemu registered with binfmt_misc")
    return Check(
        name=name,
        status="fail",
        detail=f"no emulator for {platform.arch} is registered with binfmt_misc",
        fix=_emulator_fix(platform),
    )


def _emulator_fix(platform: Platform) -> str:
    return (
        f"register qemu for {platform.arch}: 'apt-get install qemu-user-static "
        f"binfmt-support && update-binfmts --enable qemu-{platform.machine}' "
        f"(or 'docker run --privileged --rm tonistiigi/binfmt --install {platform.arch}'), "
        f"or use a builder with a native {platform.arch} node (--builder NAME)"
    )


def _version(argv: list[str]) -> str | None:
    result = process.run(argv, check=False, timeout=30)
    text = result.stdout.strip()
    return text if result.returncode == 0 and text else None


def _buildx_version_check(text: str) -> Check:
    match = re.search(r"v?(\d+)\.(\d+)\.(\d+)", text)
    version = tuple(int(part) for part in match.groups()) if match else (0, 0, 0)
    if version < (0, 10, 0):
        return Check(
            name="buildx",
            status="fail",
            detail=f"{text}: containerize needs buildx 0.10 or newer",
            fix="upgrade the docker-buildx plugin",
        )
    return Check(name="buildx", status="ok", detail=text)


def _platform_check(platform: Platform, info: BuilderInfo) -> Check:
    name = f"platform {platform}"
    if str(platform) in info.platforms and info.nodes:
        return Check(name=name, status="ok", detail=info.where(platform))
    if str(platform) in info.platforms:
        if _native(platform):
            detail = "native"
        elif probes.emulator_enabled(platform.arch):
            detail = "by emulation (qemu registered with binfmt_misc)"
        else:
            detail = "on a builder node"
        return Check(name=name, status="ok", detail=detail)
    return Check(
        name=name,
        status="fail",
        detail=f"builder {info.name!r} cannot build {platform}: no node is native to it and "
        "no emulator is registered",
        fix=_emulator_fix(platform),
    )


def _native(platform: Platform) -> bool:
    return platform.machine == os.uname().machine


def _image_store_check(info: BuilderInfo, platforms: Sequence[Platform]) -> Check:
    name = "image store"
    if info.driver != "docker":
        return Check(
            name=name,
            status="ok",
            detail=f"driver {info.driver}: the image is built on the builder's nodes; --push "
            "sends it to its registry from there, --load brings it back into this engine",
        )
    containerd = probes.containerd_image_store()
    if containerd:
        return Check(
            name=name,
            status="ok",
            detail="containerd image store: multi-platform images can be loaded",
        )
    return Check(
        name=name,
        status="warn" if len(platforms) > 1 else "ok",
        detail="classic image store: a multi-platform build cannot be loaded, only pushed",
        fix='enable {"features": {"containerd-snapshotter": true}} in /etc/docker/daemon.json '
        "and restart dockerd, or build with --push",
    )


def _registry_check(registry: str) -> Check:
    name = f"registry {registry}"
    for scheme in ("https", "http") if not registry.startswith("127.") else ("http",):
        try:
            url = f"{scheme}://{registry}/v2/"  # always http(s): the scheme is ours
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
                return Check(name=name, status="ok", detail=f"answers ({response.status})")
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                return Check(name=name, status="ok", detail="answers (login required)")
        except (urllib.error.URLError, OSError):
            continue
    return Check(
        name=name,
        status="fail",
        detail="does not answer /v2/",
        fix="start the registry ('containerize engine up' runs one on 127.0.0.1:5000) "
        "or fix tool.containerize.image",
    )


def registry_of(image: str) -> str | None:
    """The registry host of an image repository, when it names one explicitly."""
    return reference.parse(image, where="image").domain
