"""What a buildx builder is made of: its nodes, the platforms each builds, and which of
them it runs natively, read from ``docker buildx inspect`` (it has no JSON format).

A node lists its own platform first (BuildKit puts the worker's platform, then its
variants, then what its emulators add; a platform set with ``--platform`` when the
node was created is marked ``*`` and also listed first). So a platform is native on
a node whose first platform has its architecture, and emulated on the others; a
builder with an amd64 node and an arm64 node builds both natively.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from containerize.platforms import Platform


@dataclass(frozen=True, kw_only=True)
class NodeInfo:
    """One node of a builder."""

    name: str
    endpoint: str
    status: str
    platforms: tuple[str, ...]

    @property
    def native_arch(self) -> str | None:
        """The architecture of the node's own platform (its first one), if it lists any."""
        if not self.platforms:
            return None
        parts = self.platforms[0].split("/")
        return parts[1] if len(parts) > 1 else None

    def builds(self, platform: Platform) -> bool:
        return str(platform) in self.platforms

    def describe(self) -> str:
        shown = ", ".join(self.platforms) or "no platforms reported"
        return f"{self.name} ({self.endpoint}, {self.status}): {shown}"


@dataclass(frozen=True, kw_only=True)
class BuilderInfo:
    """What ``docker buildx inspect`` says about a builder."""

    name: str
    driver: str
    status: str  # the first node's
    platforms: tuple[str, ...]  # every node's, in order, without repeats
    error: str = ""  # what buildx could not do (it still exits 0), e.g. reach the daemon
    nodes: tuple[NodeInfo, ...] = ()

    def native_nodes(self, platform: Platform) -> tuple[NodeInfo, ...]:
        """The nodes that build *platform* on its own CPU."""
        return tuple(n for n in self.nodes if n.builds(platform) and n.native_arch == platform.arch)

    def emulated(self, platform: Platform) -> bool:
        """Whether *platform* is built under emulation: some node lists it, none natively."""
        return str(platform) in self.platforms and not self.native_nodes(platform)

    def where(self, platform: Platform) -> str:
        """How *platform* is built, for people: on which node, natively or emulated."""
        native = self.native_nodes(platform)
        if native:
            return "native on node " + ", ".join(n.name for n in native)
        nodes = [n.name for n in self.nodes if n.builds(platform)]
        if nodes:
            return f"under emulation on node {', '.join(nodes)} (no node is {platform.arch})"
        return "on no node"


def parse_inspect(text: str) -> BuilderInfo:
    """Parse the text of ``docker buildx inspect``."""
    builder: dict[str, str] = {}
    nodes: list[dict[str, str]] = []
    platforms: list[list[str]] = []
    in_nodes = False
    for line in text.splitlines():
        if line.strip() == "Nodes:":
            in_nodes = True
            continue
        key, sep, value = line.partition(":")
        if not sep or line.startswith(" "):  # labels and flags are indented
            continue
        key, value = key.strip(), value.strip()
        if in_nodes and key == "Name":
            nodes.append({})
            platforms.append([])
        if in_nodes and nodes:
            if key == "Platforms":
                platforms[-1] += _platforms(value)
            else:
                nodes[-1].setdefault(key, value)
        else:
            builder.setdefault(key, value)
    infos = tuple(
        NodeInfo(
            name=node.get("Name", "?"),
            endpoint=node.get("Endpoint", "?"),
            status=node.get("Status", "?"),
            platforms=tuple(found),
        )
        for node, found in zip(nodes, platforms, strict=True)
    )
    # A node that cannot be reached says so on its own Error line.
    node_errors = [node["Error"] for node in nodes if node.get("Error")]
    return BuilderInfo(
        name=builder.get("Name", "?"),
        driver=builder.get("Driver", "?"),
        status=infos[0].status if infos else builder.get("Status", "?"),
        platforms=tuple(dict.fromkeys(p for node in infos for p in node.platforms)),
        error=builder.get("Error", "") or "; ".join(node_errors),
        nodes=infos,
    )


def _platforms(value: str) -> Iterable[str]:
    return (p.strip().rstrip("*") for p in value.split(",") if p.strip())
