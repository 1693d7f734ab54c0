"""Cell results: the table a person reads, the JUnit XML a CI system reads, and the
latest result of every cell kept in the build folder.

Each cell's result is written to ``<build dir>/test-results/<server>-<platform>.json``
as it finishes. The Markdown report and ``junit.xml`` beside it are then rewritten
from the latest result of every configured cell, under a lock, so cells run by
separate processes (Nox runs each cell as its own session) add up to one report.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from containerize.buildfolder import BuildFolder
from containerize.fsutil import claim, write_atomic
from containerize.matrix.checks import Outcome
from containerize.platforms import Platform

_SCHEMA = 1


@dataclass(frozen=True, kw_only=True)
class CellResult:
    """How one cell went, with the figures of its report row."""

    server: str
    platform: str
    image: str
    image_id: str | None
    outcomes: tuple[Outcome, ...]
    seconds: float
    ready_seconds: float | None = None
    latency_ms: tuple[float, float] | None = None  # p50, p99 of the burst
    size: int | None = None  # unpacked bytes
    log_tail: str = ""
    finished: str = ""  # ISO 8601, UTC

    @property
    def passed(self) -> bool:
        return bool(self.outcomes) and all(o.status != "failed" for o in self.outcomes)

    @property
    def name(self) -> str:
        return f"{self.server} {self.platform}"

    @property
    def slug(self) -> str:
        return f"{self.server}-{Platform.parse(self.platform).slug}"

    @property
    def failures(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.status == "failed")

    def to_json(self) -> str:
        data = {"schema": _SCHEMA, **asdict(self)}
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> CellResult | None:
        """The result in *text*, or None for a file of another schema or a broken one."""
        try:
            data = json.loads(text)
            if data.pop("schema", None) != _SCHEMA:
                return None
            data["outcomes"] = tuple(Outcome(**o) for o in data["outcomes"])
            latency = data.get("latency_ms")
            data["latency_ms"] = tuple(latency) if latency else None
            return cls(**data)
        except (ValueError, TypeError, KeyError):
            return None


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- for people


_COLUMNS = ("cell", "result", "first 200", "p50", "p99", "size", "time")


def _row(result: CellResult) -> tuple[str, ...]:
    failed = len(result.failures)
    p50, p99 = result.latency_ms or (None, None)
    return (
        result.name,
        "passed" if result.passed else f"FAILED ({failed})",
        _seconds(result.ready_seconds),
        "-" if p50 is None else f"{p50:.1f} ms",
        "-" if p99 is None else f"{p99:.1f} ms",
        "-" if result.size is None else f"{result.size / 2**20:.1f} MiB",
        f"{result.seconds:.0f}s",
    )


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def table(results: Sequence[CellResult]) -> str:
    """An aligned plain-text table, one row per cell."""
    rows = [_COLUMNS, *(_row(r) for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def failures(results: Sequence[CellResult]) -> str:
    """For each failed cell: each failed check, its evidence, and the container's log."""
    parts = []
    for result in results:
        if result.passed:
            continue
        lines = [f"{result.name} ({result.image}):"]
        for outcome in result.failures:
            lines.append(f"  {outcome.check}: {outcome.message}")
            lines += [f"    {line}" for line in outcome.detail.splitlines()]
        if result.log_tail and not _shown(result.log_tail, result.failures):
            lines.append("  container log (last lines):")
            lines += [f"    {line}" for line in result.log_tail.splitlines()]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def _shown(log_tail: str, failures: Sequence[Outcome]) -> bool:
    """Whether a failed check's evidence already ends as the container's log does (the
    readiness check quotes it): the terminal shows it once; the reports keep it whole."""
    last = next((line for line in reversed(log_tail.splitlines()) if line.strip()), "")
    return bool(last) and any(last in outcome.detail for outcome in failures)


def markdown(results: Sequence[CellResult], missing: Sequence[str] = ()) -> str:
    """The Markdown report: the table, every check of every cell, the failures."""
    out = ["# containerize test matrix", ""]
    out.append("| " + " | ".join(_COLUMNS) + " | image | finished |")
    out.append("|" + "---|" * (len(_COLUMNS) + 2))
    for result in results:
        cells = (*_row(result), f"`{result.image}`", result.finished)
        out.append("| " + " | ".join(cells) + " |")
    if missing:
        out += ["", "Not run yet: " + ", ".join(missing) + "."]
    for result in results:
        out += ["", f"## {result.name}", ""]
        for outcome in result.outcomes:
            out.append(f"- **{outcome.check}**: {outcome.status}: {outcome.message}")
            if outcome.status == "failed" and outcome.detail:
                out += ["", "  ```", *(f"  {line}" for line in outcome.detail.splitlines())]
                out += ["  ```"]
        if not result.passed and result.log_tail:
            out += ["", "  container log:", "", "  ```"]
            out += [f"  {line}" for line in result.log_tail.splitlines()] + ["  ```"]
    return "\n".join(out) + "\n"


def junit(results: Sequence[CellResult]) -> str:
    """JUnit XML: one test suite per cell, one test case per check."""
    root = ET.Element("testsuites", name="containerize test matrix")
    for result in results:
        suite = ET.SubElement(
            root,
            "testsuite",
            name=result.name,
            tests=str(len(result.outcomes)),
            failures=str(len(result.failures)),
            skipped=str(sum(o.status == "skipped" for o in result.outcomes)),
            time=f"{result.seconds:.3f}",
            timestamp=result.finished,
        )
        ET.SubElement(ET.SubElement(suite, "properties"), "property", name="image").set(
            "value", result.image
        )
        for outcome in result.outcomes:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{result.server}.{result.slug}",
                name=outcome.check,
                time=f"{outcome.seconds:.3f}",
            )
            if outcome.status == "failed":
                failure = ET.SubElement(case, "failure", message=outcome.message)
                failure.text = outcome.detail
            elif outcome.status == "skipped":
                ET.SubElement(case, "skipped", message=outcome.message)
        if not result.passed and result.log_tail:
            ET.SubElement(suite, "system-out").text = result.log_tail
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


# --------------------------------------------------------------------------- on disk


@dataclass(frozen=True, kw_only=True)
class Written:
    """Where the results went."""

    markdown: Path
    junit: Path
    results: tuple[CellResult, ...]  # the latest of every configured cell that has run
    missing: tuple[str, ...]  # configured cells without a result yet


def record(
    build_dir: Path, results: Sequence[CellResult], all_cells: Sequence[tuple[str, Platform]]
) -> Written:
    """Keep *results*, then rewrite the report and JUnit XML from every cell's latest."""
    claim(build_dir)
    folder = BuildFolder.at(build_dir).test_results
    folder.mkdir(exist_ok=True)
    for result in results:
        write_atomic(folder / f"{result.slug}.json", result.to_json())
    with (folder / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # other cells' processes write here too
        try:
            latest, missing = [], []
            for server, platform in all_cells:
                path = folder / f"{server}-{platform.slug}.json"
                found = CellResult.from_json(path.read_text()) if path.is_file() else None
                if found is None:
                    missing.append(f"{server} {platform}")
                else:
                    latest.append(found)
            written = Written(
                markdown=folder / "report.md",
                junit=folder / "junit.xml",
                results=tuple(latest),
                missing=tuple(missing),
            )
            write_atomic(written.markdown, markdown(latest, missing))
            write_atomic(written.junit, junit(latest))
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return written
