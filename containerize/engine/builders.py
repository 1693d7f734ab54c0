"""What a buildx builder is made of: its nodes, the platforms each builds, and which of
them it runs natively, read from ``docker buildx inspect`` (it has no JSON format).

A node lists its own platform first (BuildKit puts the worker's platform, then its
variants, then what its emulators add; a platform set with ``--platform`` when the
node was created is marked ``*`` and also listed first). So a platform is native on
a node whose first platform has its architecture, and emulated on the others; a
builder with an amd64 node and an arm64 node builds both natively.

``docker buildx ls --format json`` (buildx 0.13) lists every builder the docker CLI
knows, one JSON object a line; 0.13 prints a builder's line again for each of its
nodes, so :func:`parse_ls` keeps the first of each name. It is read only when a named
builder does not exist (to say which do): ``ls`` asks every builder's nodes, slow when
some are far away.
"""

from __future__ import annotations

import difflib
import json
import re
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
    #: What the node was created with (``--driver-opt``): a kubernetes node's
    #: ``nodeselector``, ``namespace``, ``loadbalance``; a remote node's TLS files.
    driver_options: tuple[tuple[str, str], ...] = ()

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

    def options(self) -> str:
        """The driver options, sorted, as ``key=value`` words ("" without any)."""
        return " ".join(f"{key}={value}" for key, value in sorted(self.driver_options))


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
            driver_options=_driver_options(node.get("Driver Options", "")),
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


def missing(name: str, known: Iterable[BuilderInfo]) -> str:
    """What to say about the builder *name* that is not among the *known* ones: which
    are (with their drivers), and the closest name."""
    listed = list(known)
    if not listed:
        return ""
    said = "; builders here: " + ", ".join(f"{b.name} ({b.driver})" for b in listed)
    close = difflib.get_close_matches(name, [b.name for b in listed], n=1)
    return said + (f"; did you mean {close[0]!r}?" if close else "")


def parse_ls(text: str) -> tuple[BuilderInfo, ...]:
    """Parse the output of ``docker buildx ls --format json``: each builder once, in
    the order listed. A line that is no JSON object is passed over (a warning)."""
    found: dict[str, BuilderInfo] = {}
    for line in text.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if not isinstance(item, dict) or not isinstance(item.get("Name"), str):
            continue
        if item["Name"] in found:
            continue
        listed = item.get("Nodes")
        raw_nodes = [n for n in listed if isinstance(n, dict)] if isinstance(listed, list) else []
        nodes = tuple(_ls_node(node) for node in raw_nodes)
        errors = [str(e) for e in (item.get("Err"), *(n.get("Err") for n in raw_nodes)) if e]
        found[item["Name"]] = BuilderInfo(
            name=item["Name"],
            driver=str(item.get("Driver", "?")),
            status=nodes[0].status if nodes else "?",
            platforms=tuple(dict.fromkeys(p for node in nodes for p in node.platforms)),
            error="; ".join(errors),
            nodes=nodes,
        )
    return tuple(found.values())


def _ls_node(node: dict[str, object]) -> NodeInfo:
    listed = node.get("Platforms")
    options = node.get("DriverOpts")
    return NodeInfo(
        name=str(node.get("Name", "?")),
        endpoint=str(node.get("Endpoint", "?")),
        status=str(node.get("Status", "?")),
        platforms=tuple(str(p) for p in listed) if isinstance(listed, list) else (),
        driver_options=tuple((str(k), str(v)) for k, v in options.items())
        if isinstance(options, dict)
        else (),
    )


def _platforms(value: str) -> Iterable[str]:
    return (p.strip().rstrip("*") for p in value.split(",") if p.strip())


def _driver_options(value: str) -> tuple[tuple[str, str], ...]:
    """``namespace="ci" nodeselector="kubernetes.io/arch=amd64"``, as buildx prints them."""
    return tuple((m[1], m[2]) for m in re.finditer(r'([\w.-]+)="([^"]*)"', value))
