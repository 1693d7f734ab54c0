"""The release plan: what a release builds, pushes, attaches, signs and tags, computed
before anything runs, and what a dry run prints.

The order a release follows is part of the plan, because the guarantees come from it:

1. one buildx build per server, all platforms at once, exported as an OCI layout;
2. each server's index pushed **by digest** (blobs, manifests, index: no tag);
3. per platform, the SBOM (and, when asked, the provenance) attached to the
   platform's manifest as an artifact; then the signatures, verified;
4. the test hook, given ``{server: "repo@sha256:..."}``;
5. the immutable tags (version, sha) of every server, refused where one already names
   another digest unless forced; then the moving tags (``latest``, ``1``, ``1.2``);
6. every tag read back: it must name the pushed index, holding every platform.

A failure or an interruption before step 5 moves no tag, and the moving tags are the
last to move.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from containerize.buildfolder import BuildFolder
from containerize.config import Config
from containerize.platforms import Platform
from containerize.release import sbom, tags
from containerize.release.tags import TagPlan


@dataclass(frozen=True, kw_only=True)
class ReleasePlan:
    """Everything a release does, decided."""

    tags: TagPlan
    platforms: tuple[Platform, ...]
    folder: Path  # <build dir>/release
    provenance: bool  # attach BuildKit's provenance per platform, as referrers
    sign_key: str | None  # cosign key file or KMS URI; None: no signing
    force: bool  # overwrite existing immutable tags

    @property
    def servers(self) -> tuple[str, ...]:
        return tuple(entry.server for entry in self.tags.servers)

    def layout(self, server: str) -> Path:
        """Where buildx exports *server*'s image (an OCI layout folder)."""
        return self.folder / "oci" / server

    def sbom(self, server: str, platform: Platform) -> Path:
        """The SBOM of *server*'s image on *platform*, kept after the release."""
        return self.folder / "sbom" / f"{server}-{platform.slug}{sbom.SUFFIX}"

    @property
    def public_key(self) -> Path:
        """The signing key's public half, written for verification."""
        return self.folder / "cosign.pub"

    @property
    def record(self) -> Path:
        """What went out: servers, digests, tags and SBOMs, as JSON."""
        return self.folder / "release.json"


def plan_release(
    config: Config,
    *,
    revision: str | None,
    dirty: bool,
    force: bool = False,
    provenance: bool = False,
    sign_key: str | None = None,
) -> ReleasePlan:
    """The release of *config*'s project version to its image repository."""
    where = f"{config.project.path.name}: tool.containerize.tag-templates"
    data = config.project.data or {}
    # The version is [project]'s when it declares one, else Poetry's (project.py).
    declared = isinstance(data.get("project"), dict) and "version" in data["project"]
    version_key = (
        "project.version"
        if declared or config.project.dialect == "pep621"
        else ("tool.poetry.version")
    )
    tag_plan = tags.plan_tags(
        version=config.project.version,
        repository=config.image,
        servers=config.servers,
        revision=revision,
        dirty=dirty,
        force=force,
        templates=dict(config.tag_templates),
        version_where=f"{config.project.path.name}: {version_key}",
        templates_where=where,
    )
    return ReleasePlan(
        tags=tag_plan,
        platforms=config.platforms,
        folder=BuildFolder.at(config.build_dir).release,
        provenance=provenance,
        sign_key=sign_key,
        force=force,
    )


def describe(plan: ReleasePlan, *, tested: bool) -> str:
    """The dry run: the tag plan per server, then per platform what goes with it;
    *tested* says whether a test step runs before the tags move."""
    details = {}
    for server in plan.servers:
        lines = []
        for platform in plan.platforms:
            extras = ["SBOM " + _shown(plan.sbom(server, platform), plan.folder)]
            if plan.provenance:
                extras.append("provenance")
            lines.append(f"{platform}: one manifest of the index; " + ", ".join(extras))
        details[server] = lines
    text = tags.format_plan(plan.tags, plan.platforms, details=details)
    signing = (
        f"signed with {plan.sign_key} (cosign) and verified before any tag moves"
        if plan.sign_key
        else "not signed (--sign-key KEY signs with cosign)"
    )
    provenance = (
        "provenance attached per platform manifest"
        if plan.provenance
        else "no provenance (--provenance attaches it per platform)"
    )
    force = "; --force: existing immutable tags are overwritten" if plan.force else ""
    testing = (
        "The tests then run against the digests; the tags move only after they pass."
        if tested
        else "Untested (--skip-tests): the tags move once the push is verified."
    )
    return text + (
        f"\nEach index is pushed by digest first, {signing}; {provenance}{force}.\n"
        f"{testing}\n"
        f"SBOMs and the release record go to {plan.folder}.\n"
        "Dry run: nothing was built or pushed.\n"
    )


def _shown(path: Path, folder: Path) -> str:
    """*path* relative to the project (the build folder's parent), when it is inside."""
    project = folder.parent.parent
    return str(path.relative_to(project)) if path.is_relative_to(project) else str(path)
