"""The bench's figures, their ratios and the issue's targets, as plain records (pure).

A run fills a :class:`Results` (contender -> figure -> value); everything else here is
arithmetic and text: the ratio of containerize's figure to each baseline's, each
target evaluated as met or not met (printed, never asserted), the markdown table and
the JSON document.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Unit = Literal["s", "ms", "bytes", "req/s", "count"]

CONTAINERIZE = "containerize"
SINGLE = "single-stage"
MULTI = "multi-stage"
#: Contenders in the order of the table's columns: the baselines, then containerize.
CONTENDERS = (SINGLE, MULTI, CONTAINERIZE)
BASELINES = (SINGLE, MULTI)


@dataclass(frozen=True, kw_only=True)
class Figure:
    """One measured quantity, as a row of the table."""

    key: str
    label: str
    unit: Unit
    higher_is_better: bool = False


FIGURES = (
    Figure(key="cold", label="cold build, every platform", unit="s"),
    Figure(key="cold_amd64", label="cold build, linux/amd64 alone", unit="s"),
    Figure(key="code_rebuild", label="rebuild after a code-only change", unit="s"),
    # containerize's code-only rebuild, phase by phase (medians; the baselines are
    # one buildx command, all of it the middle phase).
    Figure(key="code_before_buildx", label="  code-only: start to buildx (plan)", unit="s"),
    Figure(key="code_buildx", label="  code-only: buildx (build, export, push)", unit="s"),
    Figure(key="code_after_buildx", label="  code-only: after buildx (tags, report)", unit="s"),
    Figure(key="dep_rebuild", label="rebuild after one dependency is bumped", unit="s"),
    Figure(key="code_push_bytes", label="bytes pushed, code-only change", unit="bytes"),
    Figure(key="code_push_layers", label="layers pushed per platform, code-only", unit="count"),
    Figure(key="dep_push_bytes", label="bytes pushed, small dependency bumped", unit="bytes"),
    Figure(key="dep_push_layers", label="layers pushed per platform, small bump", unit="count"),
    Figure(key="dep_large_push_bytes", label="bytes pushed, large dependency bumped", unit="bytes"),
    Figure(
        key="dep_large_push_layers", label="layers pushed per platform, large bump", unit="count"
    ),
    Figure(
        key="server_shared_bytes",
        label="bytes two server images share over the base (amd64)",
        unit="bytes",
        higher_is_better=True,
    ),
    Figure(key="image_bytes", label="image size (compressed, linux/amd64)", unit="bytes"),
    Figure(key="overhead_bytes", label="size over the base (compressed, amd64)", unit="bytes"),
    Figure(key="first_200", label="container start to first 200", unit="s"),
    Figure(key="rps", label="requests per second", unit="req/s", higher_is_better=True),
    Figure(key="p99", label="p99 latency", unit="ms"),
    Figure(key="load_errors", label="errors under load", unit="count"),
)
FIGURE_KEYS = frozenset(f.key for f in FIGURES)

#: contender -> figure key -> value; a figure not measured for a contender is absent.
Results = Mapping[str, Mapping[str, float]]


@dataclass(frozen=True, kw_only=True)
class Target:
    """``numerator <= at_most * denominator``, or ``numerator <= at_most`` alone.

    Each side is (contender, figure key).
    """

    text: str
    numerator: tuple[str, str]
    at_most: float
    denominator: tuple[str, str] | None = None
    #: Only measured by a run that built both platforms (not ``--quick``).
    both_platforms: bool = False


#: The targets of issue 12, measured here and never asserted.
TARGETS = (
    Target(
        text="cold build, both platforms: at most 0.5x the single-stage baseline",
        numerator=(CONTAINERIZE, "cold"),
        denominator=(SINGLE, "cold"),
        at_most=0.5,
        both_platforms=True,
    ),
    Target(
        text="cold build, both platforms: at most 1.3x containerize's amd64-only build",
        numerator=(CONTAINERIZE, "cold"),
        denominator=(CONTAINERIZE, "cold_amd64"),
        at_most=1.3,
        both_platforms=True,
    ),
    Target(
        text="code-only rebuild: at most 1.0x the hand multi-stage baseline",
        numerator=(CONTAINERIZE, "code_rebuild"),
        denominator=(MULTI, "code_rebuild"),
        at_most=1.0,
    ),
    Target(
        text="code-only rebuild pushes only the application layer (1 layer per platform)",
        numerator=(CONTAINERIZE, "code_push_layers"),
        at_most=1.0,
    ),
    Target(
        text="bumping one small dependency pushes at most 0.1x the single-stage baseline's bytes",
        numerator=(CONTAINERIZE, "dep_push_bytes"),
        denominator=(SINGLE, "dep_push_bytes"),
        at_most=0.1,
    ),
    Target(
        text="cold build, both platforms: at most 1.1x containerize's amd64-only build",
        numerator=(CONTAINERIZE, "cold"),
        denominator=(CONTAINERIZE, "cold_amd64"),
        at_most=1.1,
        both_platforms=True,
    ),
    Target(
        text="runtime size over the base: at most 0.8x the single-stage baseline",
        numerator=(CONTAINERIZE, "overhead_bytes"),
        denominator=(SINGLE, "overhead_bytes"),
        at_most=0.8,
    ),
    Target(
        text="runtime size over the base: at most 0.8x the multi-stage baseline",
        numerator=(CONTAINERIZE, "overhead_bytes"),
        denominator=(MULTI, "overhead_bytes"),
        at_most=0.8,
    ),
)


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """A target against the figures: its measured value, and whether it is met."""

    target: Target
    measured: float | None  # the ratio (or the value, for a target without denominator)

    @property
    def state(self) -> str:
        if self.measured is None:
            return "not measured"
        return "met" if self.measured <= self.target.at_most else "not met"


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """*numerator* / *denominator*; None when either is missing or the division is void."""
    if numerator is None or denominator is None:
        return None
    if denominator == 0:
        return None  # no errors against no errors is no ratio
    return numerator / denominator


def ratios(results: Results) -> dict[str, dict[str, float | None]]:
    """baseline -> figure -> containerize's figure divided by that baseline's."""
    ours = results.get(CONTAINERIZE, {})
    return {
        baseline: {
            f.key: ratio(ours.get(f.key), results.get(baseline, {}).get(f.key)) for f in FIGURES
        }
        for baseline in BASELINES
    }


def verdicts(
    results: Results, targets: Sequence[Target] = TARGETS, *, platforms: int = 2
) -> tuple[Verdict, ...]:
    """Each target evaluated on *results*, taken for that many *platforms*: a target
    of both platforms is not measured by a run of one."""
    found = []
    for target in targets:
        if target.both_platforms and platforms < 2:
            found.append(Verdict(target=target, measured=None))
            continue
        contender, key = target.numerator
        value = results.get(contender, {}).get(key)
        if target.denominator is not None:
            other, other_key = target.denominator
            value = ratio(value, results.get(other, {}).get(other_key))
        found.append(Verdict(target=target, measured=value))
    return tuple(found)


def show(value: float | None, unit: Unit) -> str:
    """*value* in its unit, for a person."""
    if value is None or math.isnan(value):
        return "-"
    if unit == "bytes":
        return _bytes(value)
    if unit == "s":
        return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "req/s":
        return f"{value:.0f}"
    return f"{value:g}"


def _bytes(value: float) -> str:
    if abs(value) < 1024:
        return f"{value:.0f} B"
    if abs(value) < 1024**2:
        return f"{value / 1024:.1f} KiB"
    return f"{value / 1024**2:.1f} MiB"


def show_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


@dataclass(frozen=True, kw_only=True)
class Report:
    """A finished run: its figures and how they were taken."""

    results: Results
    mode: str  # "quick" or "full"
    platforms: tuple[str, ...]
    conditions: tuple[str, ...]  # what cold and warm mean, what was loaded, how often
    machine: Mapping[str, Any] = field(default_factory=dict)

    def markdown(self) -> str:
        """The figures table, each with containerize's ratio to each baseline, then the
        targets with their verdicts."""
        by_baseline = ratios(self.results)
        head = ["figure", *CONTENDERS, *(f"containerize ÷ {b}" for b in BASELINES)]
        rows = [head, ["---"] * len(head)]
        for f in FIGURES:
            values = [self.results.get(c, {}).get(f.key) for c in CONTENDERS]
            if all(v is None for v in values):
                continue
            label = f.label + (" (higher is better)" if f.higher_is_better else "")
            rows.append(
                [
                    label,
                    *(show(v, f.unit) for v in values),
                    *(show_ratio(by_baseline[b][f.key]) for b in BASELINES),
                ]
            )
        lines = [f"| {' | '.join(row)} |" for row in rows]
        lines += ["", "| target (issue 12) | measured | verdict |", "| --- | --- | --- |"]
        for verdict in verdicts(self.results, platforms=len(self.platforms)):
            shown = (
                show_ratio(verdict.measured)
                if verdict.target.denominator is not None
                else show(verdict.measured, "count")
            )
            lines.append(f"| {verdict.target.text} | {shown} | {verdict.state} |")
        lines.append(
            "| reproducibility: the same digest for every server on two clean builds "
            "| see `nox -s reproducibility` | not measured here |"
        )
        lines += ["", f"Mode: {self.mode}; platforms: {', '.join(self.platforms)}."]
        lines += [f"- {condition}" for condition in self.conditions]
        return "\n".join(lines) + "\n"

    def document(self) -> dict[str, Any]:
        """The JSON document: figures, ratios, verdicts and conditions."""
        return {
            "mode": self.mode,
            "platforms": list(self.platforms),
            "conditions": list(self.conditions),
            "machine": dict(self.machine),
            "units": {f.key: f.unit for f in FIGURES},
            "figures": {c: dict(self.results.get(c, {})) for c in CONTENDERS},
            "ratios": {
                f"containerize/{baseline}": values
                for baseline, values in ratios(self.results).items()
            },
            "targets": [
                {
                    "target": v.target.text,
                    "at_most": v.target.at_most,
                    "measured": v.measured,
                    "verdict": v.state,
                }
                for v in verdicts(self.results, platforms=len(self.platforms))
            ],
        }
