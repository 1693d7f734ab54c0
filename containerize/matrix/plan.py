"""The matrix plan: which images run where, and what each must show (pure).

A cell is one server's image on one platform. What it is checked against comes from
the project's configuration (port, stop signal, user, labels, the test table), never
from the image itself, so an image built wrong, or a foreign reference passed with
``--image``, fails its checks instead of setting the bar.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from containerize import reference, servers, testenv
from containerize.config import Config, TestSettings
from containerize.errors import ConfigError
from containerize.image import plan as image_plan
from containerize.platforms import Platform

#: How much longer an emulated platform may take to start, answer and stop.
EMULATION_SLOWDOWN = 5


@dataclass(frozen=True, kw_only=True)
class Cell:
    """One server's image on one platform, and what it must show."""

    #: The target of a repository with several (:mod:`containerize.workspace`); "" for
    #: a project alone.
    target: str = ""
    server: str
    platform: Platform
    image: str  # the reference to run
    built: bool  # a tag of this project's own build (else a given reference)
    emulated: bool
    port: int
    stop_signal: str
    uid: int
    labels: tuple[tuple[str, str], ...]  # the OCI labels every build sets the same way
    healthcheck_path: str
    grace_period: int
    allowed_hosts: tuple[str, ...]
    static_url: str | None
    static_dir: str | None  # inside the image
    settings: TestSettings
    #: The test environment, given to every container of the cell (never shown).
    env: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @property
    def name(self) -> str:
        """``gunicorn linux/arm64``; ``api gunicorn linux/arm64`` for a target."""
        return " ".join(part for part in (self.target, self.server, str(self.platform)) if part)

    @property
    def slug(self) -> str:
        """A file-name-safe name: ``gunicorn-linux-arm64`` (``api-gunicorn-linux-arm64``)."""
        return "-".join(part for part in (self.target, self.server, self.platform.slug) if part)

    @property
    def slowdown(self) -> int:
        return EMULATION_SLOWDOWN if self.emulated else 1

    @property
    def ready_timeout(self) -> float:
        return float(self.settings.ready_timeout * self.slowdown)


@dataclass(frozen=True, kw_only=True)
class MatrixPlan:
    """The cells of one run, in server-then-platform order."""

    cells: tuple[Cell, ...]
    all_cells: tuple[tuple[str, Platform], ...]  # every configured (server, platform)


def plan_matrix(
    config: Config,
    *,
    servers_: Sequence[str] = (),
    platforms: Sequence[Platform] = (),
    images: Mapping[str, str] | None = None,
    native_arch: str,
    target: str = "",
) -> MatrixPlan:
    """The cells for *servers_* x *platforms* (default: all configured).

    *images* maps a server to the reference to test instead of this project's built
    tag (a pushed digest, say); *native_arch* is this machine's OCI architecture;
    *target* names the target *config* is of, in each cell's name.
    """
    chosen_servers = tuple(servers_) or config.servers
    chosen_platforms = tuple(platforms) or config.platforms
    images = dict(images or {})
    for server in list(images) + list(chosen_servers):
        if server not in config.servers:
            raise ConfigError(
                f"server {server!r} is not one of this project's servers "
                f"({', '.join(config.servers)})",
                hint="name a server from tool.containerize.servers",
            )
    unused = sorted(set(images) - set(chosen_servers))
    if unused:
        raise ConfigError(
            f"--image given for {', '.join(unused)}, which this run does not test",
            hint="drop that --image, or add --server for it",
        )
    env = testenv.variables(config.test)
    cells = []
    for server in chosen_servers:
        stage_tags = image_plan.tags_for(config, server)
        for platform in chosen_platforms:
            cells.append(
                Cell(
                    target=target,
                    server=server,
                    platform=platform,
                    image=images.get(server, stage_tags[0]),
                    built=server not in images,
                    emulated=platform.arch != native_arch,
                    port=config.port,
                    stop_signal=servers.get(server).stop_signal,
                    uid=config.uid,
                    labels=expected_labels(config),
                    healthcheck_path=config.healthcheck_path,
                    grace_period=config.grace_period,
                    allowed_hosts=config.allowed_hosts,
                    static_url=config.static.url if config.static else None,
                    static_dir=f"{image_plan.app_dir(config)}/{config.static.dir}"
                    if config.static
                    else None,
                    settings=config.test,
                    env=env,
                )
            )
    return MatrixPlan(
        cells=tuple(cells),
        all_cells=tuple((s, p) for s in config.servers for p in config.platforms),
    )


def expected_labels(config: Config) -> tuple[tuple[str, str], ...]:
    """The labels whose values do not change from one build of a version to the next."""
    labels = {
        "org.opencontainers.image.title": config.name,
        "org.opencontainers.image.version": config.version,
    }
    if config.source:
        labels["org.opencontainers.image.source"] = config.source
    return tuple(sorted(labels.items()))


def parse_images(values: Sequence[str], *, servers_: Sequence[str]) -> dict[str, str]:
    """``--image SERVER=REF`` (or a bare ``REF`` when one server is tested) by server."""
    images: dict[str, str] = {}
    for value in values:
        server, sep, ref = value.partition("=")
        if not sep or "/" in server or ":" in server or "@" in server:
            if len(servers_) != 1:
                raise ConfigError(
                    f"--image {value!r}: which server's image is it?",
                    hint="write --image SERVER=REFERENCE (e.g. gunicorn=registry/app@sha256:...), "
                    "or test one server with --server",
                )
            server, ref = servers_[0], value
        reference.parse(ref, where=f"--image {value!r}")
        if server in images:
            raise ConfigError(f"--image: two references for {server!r}")
        images[server] = ref
    return images
