"""The tag plan of a release: which tags each server's image gets, and which of them move.

Nothing here touches git or a registry. The release command reads the version, the
revision and the state of the work tree, calls :func:`plan_tags`, and pushes what the
:class:`TagPlan` says; a dry run prints :func:`format_plan`.

The version decides the tags (PEP 440, read with :class:`packaging.version.Version`
and written in its normal form, so ``1.2.3-RC1`` is tagged ``1.2.3rc1``):

- a final release ``1.2.3`` gets ``1.2.3``, ``1.2``, ``1`` and ``latest``;
- a pre-release (``1.3.0rc1``), a development release (``1.3.0.dev2``), a post-release
  (``1.2.3.post1``) and a local version (``1.2.3+abc``) get their exact tag only, and
  ``latest``, ``1`` and ``1.2`` stay where they are. A post-release is the conservative
  case: PEP 440 meant post-releases for errors that do not touch the software (release
  notes, metadata), yet projects also ship fixes in them, and whether one should replace
  the final release under the tags users follow is the maintainer's call, not a rule's.
  docker/metadata-action gives post-releases their exact tag only too. To move the
  tags, release ``1.2.4``;
- a local version's ``+`` becomes ``_``: ``1.2.3+abc.1`` is tagged ``1.2.3_abc.1``. A
  version in normal form holds no ``_`` and no ``-``, so the mapping can be read back,
  and no version's tag can be mistaken for another server's ``-<server>`` suffix (which
  ``1.2.3-uwsgi`` would be). Helm maps ``+`` the same way for OCI registries;
- major version 0 gets no ``0`` tag: under semantic versioning anything may change
  before 1.0, and ``0`` would promise compatibility across exactly the releases most
  likely to break it. ``0.4.1`` is tagged ``0.4.1``, ``0.4`` and ``latest``
  (docker/metadata-action emits ``0``, and its documentation shows the ``enable``
  guard that skips it: here that guard is the rule);
- a version with an epoch (``1!2.0``) is refused: ``!`` cannot appear in a tag, and an
  epoch restarts the numbering, so dropping it would hand ``2.0``, ``2`` and even the
  immutable ``2.0`` of an older release numbered the same to the new one;
- when a moving tag is the exact tag itself (``1.0`` is both the version and its
  ``major.minor``), the exact, immutable tag stands.

A git revision adds ``sha-<7 hex digits>`` to every release, final or not. A work tree
with uncommitted changes refuses it (the image is not that commit) unless forced; a
forced plan says so.

Servers: the default server (the first configured) gets the bare tags; every other
server gets the same tags with ``-<server>`` appended, and ``<server>`` alone in place
of ``latest``, as the official images name their variants (``python:slim`` is the
latest ``slim``, ``python:3.12-slim`` its 3.12). Either scheme is a list of templates,
:data:`~containerize.tagrules.DEFAULT_SERVER_TEMPLATES` and
:data:`~containerize.tagrules.SERVER_TEMPLATES`, and a server may have its own list
instead, with the placeholders in :data:`~containerize.tagrules.PLACEHOLDERS`. What a
template uses decides what its tag is:

- with ``{version}`` or ``{sha}``, the tag is *immutable*: it names one release or one
  commit, and the release step never overwrites it in a registry unless forced. A
  ``{sha}`` template gives no tag without a revision;
- otherwise the tag is *moving* (``latest``, ``1``, ``1.2``): only a final release
  moves it, and only after the tests pass. A moving template with ``{major}`` but not
  ``{minor}`` gives no tag under major version 0.

Two servers never share a tag, and every server gets at least one tag.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from containerize import reference
from containerize.errors import ConfigError
from containerize.platforms import Platform
from containerize.reference import ImageReference
from containerize.tagrules import TEMPLATES_WHERE, VERSION_WHERE, Template, scheme

SHA_LENGTH = 7
_REVISION_RE = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1 or SHA-256 repositories

_VERSION_HINT = (
    "write a PEP 440 version such as '1.2.3', '1.3.0rc1' or '1.3.0.dev2' "
    "(https://packaging.python.org/en/latest/specifications/version-specifiers/)"
)
_TAG_RULE = (
    "a tag is 1 to 128 letters, digits, '_', '.' and '-', and does not start with '.' or '-'"
)


class Kind(enum.Enum):
    """What kind of release a version is; only a final release moves tags."""

    FINAL = "final release"
    PRE = "pre-release"
    DEV = "development release"
    POST = "post-release"
    LOCAL = "local version"


@dataclass(frozen=True, kw_only=True)
class ReleaseVersion:
    """The project's version, read once: its normal form and its tag-safe form."""

    text: str  # PEP 440 normal form: '1.2.3rc1', '1.2.3+abc.1'
    tag: str  # the exact tag: '1.2.3rc1', '1.2.3_abc.1'
    kind: Kind
    major: int
    minor: int  # 0 for a one-part version, as packaging reads it


@dataclass(frozen=True, kw_only=True)
class Tag:
    """One tag of one server's image."""

    name: str  # '1.2.3-uwsgi'
    mutable: bool  # a moving tag (latest, 1, 1.2), as opposed to an exact version or sha
    reference: ImageReference  # repository:name, what is pushed

    @property
    def immutable(self) -> bool:
        return not self.mutable


@dataclass(frozen=True, kw_only=True)
class ServerTags:
    """The tags of one server's image: the immutable ones first, then the moving ones."""

    server: str
    default: bool  # the default server gets the bare tags
    tags: tuple[Tag, ...]

    @property
    def immutable(self) -> tuple[Tag, ...]:
        """Exact version and commit tags: never overwritten unless forced."""
        return tuple(tag for tag in self.tags if not tag.mutable)

    @property
    def moving(self) -> tuple[Tag, ...]:
        """``latest``, ``1``, ``1.2``...: moved only after the tests pass."""
        return tuple(tag for tag in self.tags if tag.mutable)

    @property
    def references(self) -> tuple[str, ...]:
        return tuple(str(tag.reference) for tag in self.tags)


@dataclass(frozen=True, kw_only=True)
class TagPlan:
    """Every tag a release pushes, per server, in the configured order of the servers."""

    repository: ImageReference
    version: ReleaseVersion
    revision: str | None  # the full commit, None outside git
    sha_forced: bool  # sha tags planned from a work tree with uncommitted changes
    servers: tuple[ServerTags, ...]  # the first is the default server

    def server(self, name: str) -> ServerTags:
        """The tags of server *name*."""
        for entry in self.servers:
            if entry.server == name:
                return entry
        raise KeyError(name)

    @property
    def tags(self) -> tuple[Tag, ...]:
        """Every tag of every server."""
        return tuple(tag for entry in self.servers for tag in entry.tags)


def parse_version(text: str | None, *, where: str = VERSION_WHERE) -> ReleaseVersion:
    """Read the project's version as a release; *where* names it in errors."""
    if text is None:
        raise ConfigError(
            f"{where} is missing: a release is tagged with the project's version",
            hint='write a static version such as version = "1.2.3"; containerize does '
            "not compute dynamic versions",
        )
    try:
        version = Version(text)
    except InvalidVersion:
        raise ConfigError(
            f"{where}: {text!r} is not a PEP 440 version", hint=_VERSION_HINT
        ) from None
    if version.epoch:
        raise ConfigError(
            f"{where}: {text!r} has an epoch ({version.epoch}!), which image tags cannot "
            "express; without it, its tags would clash with an older release numbered the same",
            hint=f"release it as {str(version).partition('!')[2]!r}, or tag the image by hand",
        )
    normal = str(version)
    return ReleaseVersion(
        text=normal,
        tag=normal.replace("+", "_"),
        kind=_kind(version),
        major=version.major,
        minor=version.minor,
    )


def plan_tags(
    *,
    version: str | None,
    repository: str,
    servers: Sequence[str],
    revision: str | None = None,
    dirty: bool = False,
    force: bool = False,
    templates: Mapping[str, Sequence[str] | str] | None = None,
    version_where: str = VERSION_WHERE,
    templates_where: str = TEMPLATES_WHERE,
) -> TagPlan:
    """The tags of a release of *version* to *repository*, for each of *servers*.

    *servers* are the configured server names, the default first. *revision* is the
    full commit hash (None outside git); *dirty* says the work tree has uncommitted
    changes, which refuses the sha tags unless *force*. *templates* maps a server's
    name to its own tag templates, in place of the default scheme. The names are
    checked where the configuration is read; templates of a server that is not
    released (``--server`` chose others) are ignored.
    """
    release = parse_version(version, where=version_where)
    repo = reference.parse_repository(repository, where="tool.containerize.image")
    names = _check_servers(servers)
    sha = _short_sha(revision)
    schemes = {
        name: scheme(
            name,
            default=i == 0,
            templates=templates or {},
            where=templates_where,
            version_where=version_where,
        )
        for i, name in enumerate(names)
    }

    uses_sha = any("sha" in t.fields for scheme in schemes.values() for t in scheme)
    if sha is not None and uses_sha and dirty and not force:
        raise ConfigError(
            f"the work tree has uncommitted changes: the tag sha-{sha} would name commit "
            f"{revision}, which is not what the image is built from",
            hint="commit (or stash) the changes and release again, or pass --force to tag "
            "it anyway",
        )

    owners: dict[str, tuple[str, Template]] = {}
    planned = []
    for i, name in enumerate(names):
        entry = _server_tags(name, scheme=schemes[name], release=release, sha=sha, repo=repo)
        if not entry:
            raise ConfigError(
                f"{templates_where}.{name}: no template gives {name} a tag for "
                f"{release.text}, a {release.kind.value}",
                hint="only templates with {version} or {sha} tag a release that is not "
                "final; add one such as '{version}-{server}'",
            )
        for tag, template in entry:
            if tag.name in owners:
                _collision(tag.name, (name, template), owners[tag.name])
            owners[tag.name] = (name, template)
        planned.append(ServerTags(server=name, default=i == 0, tags=tuple(tag for tag, _ in entry)))
    return TagPlan(
        repository=repo,
        version=release,
        revision=revision,
        sha_forced=sha is not None and uses_sha and dirty,
        servers=tuple(planned),
    )


def format_plan(
    plan: TagPlan,
    platforms: Sequence[Platform],
    *,
    details: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """What a dry run prints: per server, the references it would push, for which
    platforms, and which of them are immutable or moving. *details* adds lines under
    a server's tags (the release's per-platform plan)."""
    release = plan.version
    headline = f"Release {release.text} ({release.kind.value}) of {plan.repository}"
    lines = [headline + (f" from commit {plan.revision}" if plan.revision else "")]
    if release.kind is not Kind.FINAL:
        lines.append(
            f"{release.text} is a {release.kind.value}: it gets exact tags only; "
            "latest and the other moving tags stay where they are."
        )
    if plan.revision is None:
        lines.append("No git revision: no sha tags.")
    if plan.sha_forced:
        lines.append(
            "Warning: the work tree has uncommitted changes; the sha tags are forced and "
            "name a commit that is not exactly what was built."
        )
    index = ", ".join(str(platform) for platform in platforms)
    for entry in plan.servers:
        label = f"{entry.server} (default server)" if entry.default else entry.server
        lines += ["", f"{label}, one image index for {index}:"]
        lines += [
            f"  {'moving' if tag.mutable else 'immutable':<9}  {tag.reference}"
            for tag in entry.tags
        ]
        lines += [f"  {line}" for line in (details or {}).get(entry.server, ())]
    lines += [
        "",
        "Immutable tags are never overwritten unless forced; "
        "moving tags move only after the tests pass.",
    ]
    return "\n".join(lines) + "\n"


def _kind(version: Version) -> Kind:
    if version.dev is not None:
        return Kind.DEV
    if version.pre is not None:
        return Kind.PRE
    if version.post is not None:
        return Kind.POST
    if version.local is not None:
        return Kind.LOCAL
    return Kind.FINAL


def _check_servers(names: Sequence[str]) -> tuple[str, ...]:
    if not names:
        raise ConfigError("no servers to release", hint="configure at least one server")
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(f"servers[{i}]: {name!r} is listed twice", hint="list it once")
    return tuple(names)


def _short_sha(revision: str | None) -> str | None:
    if revision is None:
        return None
    if not isinstance(revision, str) or not _REVISION_RE.fullmatch(revision):
        raise ConfigError(
            f"git revision: {revision!r} is not a full commit hash",
            hint="pass the output of 'git rev-parse HEAD' (40 or 64 lowercase hex digits)",
        )
    return revision[:SHA_LENGTH]


def _server_tags(
    name: str,
    *,
    scheme: tuple[Template, ...],
    release: ReleaseVersion,
    sha: str | None,
    repo: ImageReference,
) -> list[tuple[Tag, Template]]:
    """Render *scheme* for server *name*: immutable tags first, each tag once."""
    values = {
        "version": release.tag,
        "major": str(release.major),
        "minor": str(release.minor),
        "server": name,
        "sha": sha or "",
    }
    rendered: dict[str, tuple[Tag, Template]] = {}
    for mutable in (False, True):
        for template in scheme:
            if template.mutable is not mutable or not _applies(template, release, sha):
                continue
            tag = template.text.format(**values)
            if tag in rendered:
                # A moving tag that is the exact tag itself: '1.0' for version 1.0.
                continue
            try:
                ref = repo.with_tag(tag)
            except ConfigError:
                raise _invalid_tag(tag, template, server=name, release=release) from None
            rendered[tag] = (Tag(name=tag, mutable=mutable, reference=ref), template)
    return list(rendered.values())


def _applies(template: Template, release: ReleaseVersion, sha: str | None) -> bool:
    """Whether *template* gives a tag for *release*."""
    if "sha" in template.fields and sha is None:
        return False
    if not template.mutable:
        return True
    if release.kind is not Kind.FINAL:
        return False
    # A bare '0' would promise compatibility across the 0.x releases.
    return not (
        "major" in template.fields and "minor" not in template.fields and release.major == 0
    )


def _invalid_tag(
    tag: str, template: Template, *, server: str, release: ReleaseVersion
) -> ConfigError:
    if template.configured:
        return ConfigError(
            f"{template.where}: {template.text!r} gives {tag!r} for {server}, "
            f"which is not a valid tag: {_TAG_RULE}",
            hint="change the template's text around the placeholders",
        )
    return ConfigError(
        f"{template.where}: {release.text!r} gives the tag {tag!r} for {server}, "
        f"which is not a valid tag: {_TAG_RULE}",
        hint="shorten the version (its local part, after '+')",
    )


def _collision(tag: str, first: tuple[str, Template], second: tuple[str, Template]) -> None:
    """Refuse *tag* for two servers, blaming a configured template over a default one."""
    (server, template), (other_server, other) = first, second
    if other.configured and not template.configured:
        (server, template), (other_server, other) = second, first
    raise ConfigError(
        f"{template.where}: {template.text!r} gives {tag!r} for {server}, "
        f"which {other.describe()} also gives {other_server}",
        hint="each tag names one server's image: add '-{server}' to the template",
    )
