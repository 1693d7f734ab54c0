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


def test_servers_share_dependency_layers_and_a_clean_rebuild_changes_none(
    base_image: str, session_id: str, tmp_path: Path
) -> None:
    project = copy_project("django-app", tmp_path)
    image = f"127.0.0.1:5000/containerize-test/layers-{session_id}"
    cfg = config.load(project, overrides={"image": image, "servers": list(SERVERS)})
    prepared = pipeline.prepare(cfg, machine(engine=True), output="push", dry_run=True)
    planned = prepared.plan.layers.layers
    assert planned, "django-app has dependencies: they must be planned in layers"

    first = _build(project, image, no_cache=False)
    # skeleton + the planned dependency layers, right after the base and runtime layers:
    # find them as the run the two images share before their server layers differ.
    gunicorn, cheroot = first["gunicorn"], first["cheroot"]
    common = 0
    while gunicorn[common] == cheroot[common]:
        common += 1
    # What the images share ends with the dependency layers; the next is the server's.
    dependencies = gunicorn[common - len(planned) : common]
    assert len(dependencies) == len(planned)
    assert len(set(dependencies)) == len(planned), "each layer holds different files"
    assert gunicorn[common] != cheroot[common], "each server's own packages differ"

    # From scratch, with the same lock: the same dependency layers, digest for digest,
    # so that a bump re-pushes only the layer of the package it bumps.
    second = _build(project, image, no_cache=True)
    for server in SERVERS:
        assert second[server][common - len(planned) : common] == dependencies, server
