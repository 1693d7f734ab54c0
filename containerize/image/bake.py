"""``docker-bake.json``: the build invocations as a bake file, for CI that runs bake."""

from __future__ import annotations

import json
from collections.abc import Sequence

from containerize.engine.buildx import BuildInvocation


def bake_file(invocations: Sequence[BuildInvocation]) -> str:
    """One bake target per server, the same builds ``containerize build`` runs."""
    targets = {}
    for inv in invocations:
        spec: dict[str, object] = {
            "context": str(inv.context),
            "dockerfile": str(inv.dockerfile),
            "target": inv.target,
            "platforms": [str(p) for p in inv.platforms],
            "tags": list(inv.tags),
            "contexts": {name: str(path) for name, path in inv.build_contexts},
        }
        if inv.labels:
            spec["labels"] = dict(inv.labels)  # the image key, as 'containerize build' sets it
        if inv.cache_from:
            spec["cache-from"] = list(inv.cache_from)
        if inv.cache_to:
            spec["cache-to"] = list(inv.cache_to)
        if inv.no_cache:
            spec["no-cache"] = True
        # The same plain images as 'containerize build', which passes --provenance false.
        spec["attest"] = ["type=provenance,disabled=true"]
        if inv.output is not None:
            spec["output"] = ["type=registry"] if inv.output.kind == "push" else ["type=docker"]
        targets[inv.target or "default"] = spec
    document = {"group": {"default": {"targets": sorted(targets)}}, "target": targets}
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
