"""The venv in planned layers, read back from the registry's manifests: the server
images share their dependency layers digest for digest, and a build from scratch of
the same lock gives the same dependency layers (so a bump changes only its own)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from containerize import config, process, reference
from containerize.commands.machine import machine
from containerize.engine import buildx
from containerize.image import pipeline
from containerize.platforms import LINUX_AMD64
from containerize.registry.client import Registry

from .conftest import copy_project

pytestmark = pytest.mark.engine

SERVERS = ("gunicorn", "cheroot")


def _layers(image: str, tag: str) -> list[str]:
    """The layer digests of *image:tag*'s linux/amd64 manifest, bottom first."""
    registry = Registry(reference.parse_repository(image, where="image"))
    found = registry.manifest(tag, what=f"reading {image}:{tag}")
    assert found is not None, f"{image}:{tag} is not in the registry"
    document: dict[str, Any] = json.loads(found.data)
    if "manifests" in document:
        entry = next(
            m for m in document["manifests"] if m.get("platform", {}).get("architecture") == "amd64"
        )
        found = registry.manifest(entry["digest"], what=f"reading {image}:{tag}")
        assert found is not None
        document = json.loads(found.data)
    return [layer["digest"] for layer in document["layers"]]


@pytest.fixture
def tags() -> Iterator[set[str]]:
    """The tags the test's builds leave in the engine's image store, removed at its end."""
    made: set[str] = set()
    yield made
    if made:
        process.run(["docker", "image", "rm", "--force", *sorted(made)], check=False)


def _build(project: Path, image: str, tags: set[str], *, no_cache: bool) -> dict[str, list[str]]:
    cfg = config.load(
        project,
        overrides={"image": image, "servers": list(SERVERS), "platforms": [str(LINUX_AMD64)]},
    )
    prepared = pipeline.prepare(cfg, machine(engine=True), output="push", no_cache=no_cache)
    for inv in prepared.invocations:
        tags.update(inv.tags)
        buildx.build(inv, stream=False)
    return {server: _layers(image, server) for server in SERVERS}


def _after_server_layer(dockerfile: str, server: str) -> int:
    """How many layers the final stage of *server* adds after its server layer."""
    stage = dockerfile[dockerfile.index(f"FROM runtime AS {server}\n") :].split("\n\n", 1)[0]
    lines = stage.splitlines()
    at = lines.index(f"COPY --link --from=server-{server} /layer/ /")
    return sum(1 for line in lines[at + 1 :] if line.startswith(("COPY", "RUN", "ADD")))


def test_servers_share_dependency_layers_and_a_clean_rebuild_changes_none(
    base_image: str, session_id: str, tmp_path: Path, tags: set[str]
) -> None:
    project = copy_project("django-app", tmp_path)
    image = f"127.0.0.1:5000/containerize-test/layers-{session_id}"
    first = _build(project, image, tags, no_cache=False)
    # The plan the build used (with the wheelhouse's sizes: Django in a layer of its own).
    cfg = config.load(project, overrides={"image": image, "servers": list(SERVERS)})
    dockerfile = (cfg.build_dir / "context" / "Dockerfile").read_text()
    planned = [line.split(" AS ")[1] for line in dockerfile.splitlines() if " AS layer-" in line]
    assert "layer-django" in planned
    after = {server: _after_server_layer(dockerfile, server) for server in SERVERS}

    def parts(found: dict[str, list[str]], server: str) -> tuple[str, list[str], str]:
        """(skeleton, dependency layers, server layer) of *server*'s image."""
        layers = found[server]
        at = len(layers) - 1 - after[server]  # the server layer
        return layers[at - len(planned) - 1], layers[at - len(planned) : at], layers[at]

    skeleton, dependencies, gunicorn = parts(first, "gunicorn")
    assert len(set(dependencies)) == len(planned), "each layer holds different files"
    # The cheroot image has the very same skeleton and dependency layers; its own
    # server layer differs.
    assert parts(first, "cheroot")[:2] == (skeleton, dependencies)
    assert parts(first, "cheroot")[2] != gunicorn

    # From scratch, with the same lock: the same layers, digest for digest, in both
    # images, so that a bump re-pushes only the layer of the package it bumps.
    second = _build(project, image, tags, no_cache=True)
    for server in SERVERS:
        assert parts(second, server)[:2] == (skeleton, dependencies), server
    assert parts(second, "gunicorn")[2] == gunicorn
    # Every other layer too: containerize's files and the app are gathered with fixed
    # timestamps, so a cache miss and a context written afresh change none of them.
    assert second == first


def _git(project: Path, *args: str) -> None:
    process.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args], cwd=project
    )


def _planned(project: Path, image: str) -> list[str]:
    """The dependency layer stages of the Dockerfile the last build of *project* used."""
    cfg = config.load(project, overrides={"image": image, "servers": list(SERVERS)})
    dockerfile = (cfg.build_dir / "context" / "Dockerfile").read_text()
    return [line.split(" AS ")[1] for line in dockerfile.splitlines() if " AS layer-" in line]


def _holding(project: Path, image: str, package: str) -> str:
    """The layer stage whose wheelhouse folder holds *package*'s wheel."""
    cfg = config.load(project, overrides={"image": image})
    folders = cfg.build_dir / "wheelhouse" / "linux-amd64" / "layers"
    found = [wheel.parent.name for wheel in folders.glob(f"layer-*/{package}-*.whl")]
    assert len(found) == 1, f"{package}'s wheel in {found}"
    return found[0]


def test_a_bump_rebuilt_from_scratch_changes_one_dependency_layer(
    base_image: str, session_id: str, tmp_path: Path, tags: set[str]
) -> None:
    """flask-bump in a git repository whose lock saw click moved back and forth (the two
    locks made by uv pip compile), built for gunicorn and cheroot, then its lock swapped
    for the same lock with click 8.5.0 bumped to 8.5.1, committed, and built again with
    no cache at all, the context written afresh: the packages that never moved are in
    stable layers, and in both images the layer holding click is the one layer whose
    digest changed; the two servers' images share every dependency layer, before and
    after."""
    project = copy_project("flask-bump", tmp_path)
    image = f"127.0.0.1:5000/containerize-test/bump-{session_id}"
    lock = project / "requirements.txt"
    old, new = lock.read_bytes(), (project / "bump" / "requirements.txt").read_bytes()
    _git(project, "init", "-q")
    _git(project, "add", ".")
    _git(project, "commit", "-qm", "the app")
    for text in (new, old, new, old):
        lock.write_bytes(text)
        _git(project, "commit", "-qam", "click moves")
    before = _build(project, image, tags, no_cache=False)
    planned = _planned(project, image)
    assert {"layer-pure-stable", "layer-native-stable"} <= set(planned), planned
    holding = _holding(project, image, "click-8.5.0")
    assert holding not in ("layer-pure-stable", "layer-native-stable")

    lock.write_bytes(new)
    _git(project, "commit", "-qam", "bump click")
    after = _build(project, image, tags, no_cache=True)
    assert _planned(project, image) == planned, "the bump moves no package to another layer"
    assert _holding(project, image, "click-8.5.1") == holding

    # The dependency layers sit below each image's server layer and what follows it
    # (containerize's files, the app); the base image's and the users layer below them.
    cfg = config.load(project, overrides={"image": image, "servers": list(SERVERS)})
    dockerfile = (cfg.build_dir / "context" / "Dockerfile").read_text()

    def dependencies(found: dict[str, list[str]], server: str) -> list[str]:
        end = len(found[server]) - 1 - _after_server_layer(dockerfile, server)
        return found[server][end - len(planned) : end]

    for found in (before, after):
        assert dependencies(found, "gunicorn") == dependencies(found, "cheroot"), (
            "the servers' images share every dependency layer"
        )
        assert len(set(dependencies(found, "gunicorn"))) == len(planned)
    for server in SERVERS:
        assert len(after[server]) == len(before[server]), server
        end = len(before[server]) - 1 - _after_server_layer(dockerfile, server)
        at = end - len(planned) + planned.index(holding)
        changed = [
            index
            for index, (old, new) in enumerate(zip(before[server], after[server], strict=True))
            if old != new
        ]
        assert changed == [at], f"{server}: layers {changed} changed, only {at} ({holding}) should"
