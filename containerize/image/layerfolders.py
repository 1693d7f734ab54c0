"""Each layer's wheels in a folder of its own, inside each platform's wheelhouse folder.

The install step of a layer bind-mounts ``layers/<stage>`` of the wheelhouse folder
(``--mount=...,source=layers/layer-django``): BuildKit keys that step on the content of
that subfolder alone, so bumping one package reruns the install of its own layer and
no other. Each subfolder holds hard links to its packages' wheels (the same files, no
copy) and ``install.json``, the platform's install manifest cut down to them (pending
sdists included, so an install still refuses what is not compiled yet).

Written after the wheelhouse, for the final plan, next to its place and renamed in,
so an interrupted run never leaves a half folder a later build trusts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from packaging.utils import canonicalize_name

from containerize.errors import ConfigError, FetchError
from containerize.fsutil import link_or_copy, replacing_dir
from containerize.image.plan import BuildPlan

#: The subfolder of each platform's wheelhouse folder, and each layer's manifest.
FOLDER = "layers"
MANIFEST = "install.json"
# A manifest inside a wheelhouse folder: one plain file name, as instructions.install.
_FILE_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def folder_of(stage: str) -> str:
    """Where the install step of the layer stage *stage* mounts its wheels from."""
    return f"{FOLDER}/{stage}"


def write(plan: BuildPlan, platform_folders: Iterable[Path]) -> None:
    """Write ``layers/`` into each platform's wheelhouse folder for *plan*'s layers."""
    # Checked before anything is written: each manifest is a file of the folder.
    for name in (plan.base_manifest, *(stage.manifest for stage in plan.servers)):
        if name is not None:
            _check_name(name)
    for platform in platform_folders:
        with replacing_dir(platform / FOLDER) as staging:
            if plan.base_manifest is not None:
                base = _read(platform / plan.base_manifest)
                for layer in plan.layers.layers:
                    _write_layer(platform, staging / layer.name, base, set(layer.packages))
            for stage in plan.servers:
                server = _read(platform / stage.manifest)
                _write_layer(platform, staging / f"server-{stage.name}", server, None)


def _check_name(name: str) -> None:
    if not _FILE_NAME_RE.fullmatch(name):
        raise ConfigError(
            f"{name!r} is not a file name in the wheelhouse",
            hint="a manifest is named by letters, digits, '_', '.' and '-'",
        )


def _read(path: Path) -> dict[str, list[dict[str, str]]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise FetchError(
            f"{path}: cannot read the install manifest: {exc}",
            hint="run the build again: it writes the wheelhouse afresh",
        ) from None
    return {key: list(data.get(key, [])) for key in ("wheels", "pending")}


def _write_layer(
    platform: Path,
    dest: Path,
    manifest: dict[str, list[dict[str, str]]],
    names: set[str] | None,
) -> None:
    """*dest* with the wheels of *manifest* whose package is in *names* (all: None)."""
    dest.mkdir(parents=True)
    chosen = {
        key: [e for e in entries if names is None or canonicalize_name(e["name"]) in names]
        for key, entries in manifest.items()
    }
    for entry in chosen["wheels"]:
        link_or_copy(platform / entry["file"], dest / entry["file"])
    (dest / MANIFEST).write_text(json.dumps(chosen, indent=1, sort_keys=True) + "\n")
