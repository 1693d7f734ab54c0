"""The venv in planned layers, read back from the registry's manifests: the server
images share their dependency layers digest for digest, and a build from scratch of
the same lock gives the same dependency layers (so a bump changes only its own)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from containerize import config, reference
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


def _build(project: Path, image: str, *, no_cache: bool) -> dict[str, list[str]]:
    cfg = config.load(
        project,
        overrides={"image": image, "servers": list(SERVERS), "platforms": [str(LINUX_AMD64)]},
    )
    prepared = pipeline.prepare(cfg, machine(engine=True), output="push", no_cache=no_cache)
    for inv in prepared.invocations:
        buildx.build(inv, stream=False)
    return {server: _layers(image, server) for server in SERVERS}


def _after_server_layer(dockerfile: str, server: str) -> int:
    """How many layers the final stage of *server* adds after its server layer."""
    stage = dockerfile[dockerfile.index(f"FROM runtime AS {server}\n") :].split("\n\n", 1)[0]
    lines = stage.splitlines()
    at = lines.index(f"COPY --link --from=server-{server} /layer/ /")
    return sum(1 for line in lines[at + 1 :] if line.startswith(("COPY", "RUN", "ADD")))


def test_servers_share_dependency_layers_and_a_clean_rebuild_changes_none(
    base_image: str, session_id: str, tmp_path: Path
) -> None:
    project = copy_project("django-app", tmp_path)
    image = f"127.0.0.1:5000/containerize-test/layers-{session_id}"
    first = _build(project, image, no_cache=False)
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
    second = _build(project, image, no_cache=True)
    for server in SERVERS:
        assert parts(second, server)[:2] == (skeleton, dependencies), server
    assert parts(second, "gunicorn")[2] == gunicorn
