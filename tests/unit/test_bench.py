"""The bench's pure parts: ratios and verdicts, the table, registry byte diffs, wrk's
report, the re-lock check. The bench itself runs with ``nox -s bench``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.bench import figures, layers, load, relock, run

WRK = """\
Running 3s test @ http://127.0.0.1:49153/
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    21.06ms    4.01ms  60.12ms   88.19%
    Req/Sec   381.12     40.31   464.00     70.00%
  Latency Distribution
     50%   20.31ms
     75%   22.11ms
     90%   24.80ms
     99%    1.21s
  2284 requests in 3.01s, 2.81MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:    758.79
Transfer/sec:    956.02KB
"""


def results(**overrides: dict[str, float]) -> dict[str, dict[str, float]]:
    found = {
        figures.SINGLE: {"cold": 100.0, "code_rebuild": 100.0, "overhead_bytes": 30 * 2**20},
        figures.MULTI: {"cold": 110.0, "code_rebuild": 2.0, "overhead_bytes": 30 * 2**20},
        figures.CONTAINERIZE: {
            "cold": 60.0,
            "cold_amd64": 40.0,
            "code_rebuild": 3.0,
            "code_push_layers": 1,
            "overhead_bytes": 21 * 2**20,
        },
    }
    found.update(overrides)
    return found


def test_ratio_is_containerize_over_each_baseline() -> None:
    by = figures.ratios(results())
    assert by[figures.SINGLE]["cold"] == pytest.approx(0.6)
    assert by[figures.MULTI]["code_rebuild"] == pytest.approx(1.5)
    assert by[figures.SINGLE]["rps"] is None  # not measured


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [(1.0, 2.0, 0.5), (None, 2.0, None), (1.0, None, None), (0.0, 0.0, None), (1.0, 0.0, None)],
)
def test_ratio_edges(
    numerator: float | None, denominator: float | None, expected: float | None
) -> None:
    assert figures.ratio(numerator, denominator) == expected


def test_verdicts_say_met_or_not_met_and_never_raise() -> None:
    states = {v.target.text: v for v in figures.verdicts(results())}
    cold = states["cold build, both platforms: at most 0.5x the single-stage baseline"]
    assert cold.measured == pytest.approx(0.6)
    assert cold.state == "not met"
    amd64 = states["cold build, both platforms: at most 1.3x containerize's amd64-only build"]
    assert amd64.measured == pytest.approx(1.5)
    assert amd64.state == "not met"
    only_app = states["code-only rebuild pushes only the application layer (1 layer per platform)"]
    assert (only_app.measured, only_app.state) == (1, "met")
    size = states["runtime size over the base: at most 0.8x the multi-stage baseline"]
    assert size.measured == pytest.approx(0.7)
    assert size.state == "met"


def test_a_target_without_its_figures_is_not_measured() -> None:
    found = results()
    del found[figures.CONTAINERIZE]["cold_amd64"]
    states = {v.target.text: v.state for v in figures.verdicts(found)}
    assert states["cold build, both platforms: at most 1.3x containerize's amd64-only build"] == (
        "not measured"
    )


def test_a_run_of_one_platform_does_not_judge_the_both_platform_targets() -> None:
    """--quick builds amd64 only: its cold build says nothing of both platforms."""
    states = {v.target.text: v.state for v in figures.verdicts(results(), platforms=1)}
    assert states["cold build, both platforms: at most 0.5x the single-stage baseline"] == (
        "not measured"
    )
    assert states["code-only rebuild: at most 1.0x the hand multi-stage baseline"] != (
        "not measured"
    )


def test_markdown_table_rows_units_and_ratios() -> None:
    report = figures.Report(
        results=results(),
        mode="full",
        platforms=("linux/amd64", "linux/arm64"),
        conditions=("cold: no BuildKit cache",),
    )
    text = report.markdown()
    lines = text.splitlines()
    assert lines[0] == (
        "| figure | single-stage | multi-stage | containerize "
        "| containerize ÷ single-stage | containerize ÷ multi-stage |"
    )
    assert "| cold build, every platform | 100.0 s | 110.0 s | 60.0 s | 0.60x | 0.55x |" in lines
    assert (
        "| rebuild after a code-only change | 100.0 s | 2.00 s | 3.00 s | 0.03x | 1.50x |" in lines
    )
    assert (
        "| size over the base (compressed, amd64) | 30.0 MiB | 30.0 MiB | 21.0 MiB "
        "| 0.70x | 0.70x |" in lines
    )
    # Rows nobody measured are left out; a value one contender lacks is a dash.
    assert not any(line.startswith("| requests per second") for line in lines)
    assert "| cold build, linux/amd64 alone | - | - | 40.0 s | - | - |" in lines
    assert (
        "| code-only rebuild: at most 1.0x the hand multi-stage baseline | 1.50x | not met |"
        in lines
    )
    assert "- cold: no BuildKit cache" in lines


def test_json_document_round_trips() -> None:
    report = figures.Report(
        results=results(), mode="quick", platforms=("linux/amd64",), conditions=("c",)
    )
    document = json.loads(json.dumps(report.document()))
    assert document["figures"][figures.CONTAINERIZE]["cold"] == 60.0
    assert document["ratios"]["containerize/single-stage"]["cold"] == pytest.approx(0.6)
    assert document["units"]["image_bytes"] == "bytes"
    assert {t["verdict"] for t in document["targets"]} <= {"met", "not met", "not measured"}


def test_show_units() -> None:
    assert figures.show(1536, "bytes") == "1.5 KiB"
    assert figures.show(3 * 2**20, "bytes") == "3.0 MiB"
    assert figures.show(512, "bytes") == "512 B"
    assert figures.show(1.234, "s") == "1.23 s"
    assert figures.show(None, "s") == "-"


# --------------------------------------------------------------------- registry diffs


def manifest(config: str, *layer_digests: str) -> dict[str, Any]:
    return {
        "config": {"digest": config, "size": 100},
        "layers": [{"digest": d, "size": int(d.split(":")[1])} for d in layer_digests],
    }


def index(**platforms: str) -> dict[str, Any]:
    entries = [
        {"digest": digest, "size": 1, "platform": {"os": "linux", "architecture": arch}}
        for arch, digest in platforms.items()
    ]
    # An attestation manifest is not an image.
    entries.append({"digest": "m:att", "size": 1, "platform": {"os": "unknown"}})
    return {"manifests": entries}


def read(top: dict[str, Any], documents: dict[str, dict[str, Any]]) -> layers.Image:
    return layers.read_image(top, documents.__getitem__, single="linux/amd64")


def test_pushed_counts_new_blobs_once_and_layers_per_platform() -> None:
    before = read(
        index(amd64="m:a1", arm64="m:r1"),
        {
            "m:a1": manifest("c:a1", "l:1000", "l:2000"),
            "m:r1": manifest("c:r1", "l:1001", "l:2000"),
        },
    )
    after = read(
        index(amd64="m:a2", arm64="m:r2"),
        {
            "m:a2": manifest("c:a2", "l:1000", "l:2000", "l:300"),
            "m:r2": manifest("c:r2", "l:1001", "l:2000", "l:300"),
        },
    )
    found = layers.pushed(before, after)
    # One new layer shared by both platforms (uploaded once) and two new configs.
    assert found.bytes == 300 + 100 + 100
    assert found.layers == 1
    assert found.layers_per_platform == {"linux/amd64": 1, "linux/arm64": 1}
    assert found.most_layers_per_platform == 1
    assert layers.pushed(after, after).bytes == 0


def test_size_and_overhead_over_the_base() -> None:
    base = read(manifest("c:b", "l:5000"), {})["linux/amd64"]
    image = read(manifest("c:i", "l:5000", "l:700", "l:80"), {})["linux/amd64"]
    assert image.size == 5780
    assert layers.over_base(image, base) == 780


def test_a_manifest_without_sizes_is_refused() -> None:
    with pytest.raises(ValueError, match="without digest or size"):
        read({"config": {"digest": "c:x"}, "layers": []}, {})


# ---------------------------------------------------------------------------- wrk


def test_wrk_report_parsed() -> None:
    found = load.parse(WRK)
    assert found.requests == 2284
    assert found.rps == pytest.approx(758.79)
    assert found.p99_ms == pytest.approx(1210.0)  # 1.21s
    assert found.errors == 2 + 1 + 4


def test_several_load_runs_give_their_median_rate_and_every_error() -> None:
    runs = [
        load.LoadResult(requests=7000, rps=700.0, p99_ms=40.0, errors=0),
        load.LoadResult(requests=15000, rps=1500.0, p99_ms=20.0, errors=2),
        load.LoadResult(requests=12000, rps=1200.0, p99_ms=30.0, errors=1),
    ]
    assert load.median(runs) == load.LoadResult(requests=34000, rps=1200.0, p99_ms=30.0, errors=3)
    with pytest.raises(ValueError, match="no load runs"):
        load.median([])


def test_wrk_output_without_figures_is_an_error() -> None:
    with pytest.raises(ValueError, match="Requests/sec"):
        load.parse("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_wrk_argv_is_fixed_and_bounded() -> None:
    assert load.Load(seconds=3).argv("http://127.0.0.1:1/") == [
        "wrk", "--threads", "2", "--connections", "16", "--duration", "3s",
        "--timeout", "5s", "--latency", "http://127.0.0.1:1/",
    ]  # fmt: skip


# ------------------------------------------------------------------------- re-lock

LOCK = """\
python-dateutil==2.8.2 \\
    --hash=sha256:aaa
    # via -r requirements.in
Six==1.17.0 \\
    --hash=sha256:bbb
"""


def test_pins_and_what_moved() -> None:
    before = relock.pins(LOCK)
    assert before == {"python-dateutil": "2.8.2", "six": "1.17.0"}
    after = relock.pins(LOCK.replace("2.8.2", "2.9.0.post0"))
    assert relock.moved(before, after) == {"python-dateutil": ("2.8.2", "2.9.0.post0")}
    assert relock.moved(before, {"six": "1.17.0"}) == {"python-dateutil": ("2.8.2", "")}


def test_a_containerize_build_is_split_at_its_buildx_command_and_last_progress_line() -> None:
    lines = [
        (0.41, "wheelhouse: /p/.containerize/wheelhouse\n"),
        (0.52, "$ docker buildx build --progress auto --target gunicorn /p/context\n"),
        (0.90, '#0 building with "default" instance using docker driver\n'),
        (2.30, "#47 DONE 0.1s\n"),
        (2.35, "\n"),
        (2.40, "built:\n"),
    ]
    split = run.phases(lines, 2.45)
    assert split is not None
    assert split.before_buildx == 0.52
    assert split.buildx == pytest.approx(2.30 - 0.52)
    assert split.after_buildx == pytest.approx(0.15)
    # A build that ran no buildx (every image unchanged) has no phases.
    assert run.phases([(0.3, "nothing to build\n")], 0.4) is None


def test_containerize_is_timed_with_its_build_command_logged() -> None:
    contender = run.Containerize(caches=Path("/c"))
    build = run.Build(
        project=Path("/p"), repository="r", platforms=("linux/amd64",), cold=False,
        scope="s", log=Path("/l"),
    )  # fmt: skip
    argv = contender.argv(build)
    assert argv[1:6] == ["-m", "containerize.cli", "-v", "--project", "/p"]
    assert run.BUILDX_LOGGED.strip() == "$ docker buildx build"
