"""The test matrix without an engine: its configuration, its plan, its reports."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from containerize import cli, config
from containerize.errors import ConfigError
from containerize.matrix import containerchecks, httpchecks, plan, report, runner
from containerize.matrix.checks import Outcome
from containerize.platforms import LINUX_AMD64, LINUX_ARM64

PROJECT = '[project]\nname = "demo"\nversion = "2.0"\n'


def write(tmp_path: Path, table: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(
        PROJECT + '\n[tool.containerize]\napp = "demo:app"\n' + table
    )
    return tmp_path


def load(tmp_path: Path, table: str = "") -> config.Config:
    return config.load(write(tmp_path, table), environ={})


# --------------------------------------------------------------------------- settings


def test_defaults_probe_the_health_check_path(tmp_path: Path) -> None:
    settings = load(tmp_path, 'healthcheck-path = "/health"\n').test
    assert settings.probes == (config.Probe(path="/health"),)
    assert (settings.burst_requests, settings.burst_concurrency) == (100, 8)
    assert settings.size_budget is None
    assert not settings.read_only
    assert settings.pytest == ()


def test_the_test_table(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        textwrap.dedent(
            """
            [tool.containerize.test]
            size-budget = "150 MiB"
            burst = { requests = 20, concurrency = 4 }
            slow-path = "/slow?seconds=3"
            read-only = true
            tmpfs = ["/tmp:exec", "/home/app:size=16m"]
            pytest = ["tests/container"]
            ready-timeout = 30

            [[tool.containerize.test.probes]]
            path = "/"
            contains = "Welcome"

            [[tool.containerize.test.probes]]
            path = "/api"
            host = "api.example"
            status = 404
            headers = { "Content-Type" = "application/json" }
            """
        ),
    ).test
    assert settings.probes == (
        config.Probe(path="/", contains="Welcome"),
        config.Probe(
            path="/api",
            host="api.example",
            status=404,
            headers=(("Content-Type", "application/json"),),
        ),
    )
    assert settings.size_budget == 150 * 2**20
    assert (settings.burst_requests, settings.burst_concurrency) == (20, 4)
    assert settings.slow_path == "/slow?seconds=3"
    assert settings.read_only
    assert settings.tmpfs == ("/tmp:exec", "/home/app:size=16m")
    assert settings.pytest == ("tests/container",)
    assert settings.ready_timeout == 30


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("probs = []", "unknown key 'probs'"),
        ("probes = [{ status = 200 }]", r"test.probes\[0\]: no 'path'"),
        ('probes = [{ path = "health" }]', r"probes\[0\].path: 'health' is not a URL path"),
        ('probes = [{ path = "/a b" }]', "holds a space"),
        ('probes = [{ path = "/", status = 700 }]', r"status: expected a whole number"),
        ('probes = [{ path = "/", host = "a b" }]', "is not a host name"),
        ('probes = [{ path = "/", colour = "red" }]', "unknown key 'colour'"),
        ('probes = [{ path = "/", headers = { "X" = 1 } }]', "headers: expected a table"),
        ('probes = "/"', "probes: expected a list of tables"),
        ('size-budget = "big"', "'big' is not a size"),
        ('size-budget = "10 parsecs"', "is not a size"),
        ("size-budget = -5", "is not a size"),
        ("burst = { requests = 0 }", "burst.requests: expected a whole number from 1"),
        ("burst = { concurrency = 1000 }", "burst.concurrency"),
        ("burst = { rate = 5 }", "burst: unknown key 'rate'"),
        ('read-only = "yes"', "read-only: expected true or false"),
        ('tmpfs = ["tmp"]', r"tmpfs\[0\]: 'tmp' is not an absolute folder path"),
        ('pytest = [""]', r"pytest\[0\]: '' is not a path"),
        ("ready-timeout = true", "ready-timeout: expected a whole number"),
    ],
)
def test_bad_test_tables_say_where(tmp_path: Path, table: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load(tmp_path, "[tool.containerize.test]\n" + table + "\n")
    assert "tool.containerize.test" in str(info.value)


def test_the_nearest_test_key_is_suggested(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, "[tool.containerize.test]\nsize-budgets = 1\n")
    assert info.value.hint == "did you mean 'size-budget'?"


@pytest.mark.parametrize(
    ("text", "size"),
    [("150 MiB", 150 * 2**20), ("0.5GB", 500_000_000), ("2 kib", 2048), ("1000 B", 1000)],
)
def test_sizes(tmp_path: Path, text: str, size: int) -> None:
    assert (
        load(tmp_path, f'[tool.containerize.test]\nsize-budget = "{text}"\n').test.size_budget
        == size
    )


# --------------------------------------------------------------------------- plan


def test_cells_are_servers_by_platforms_with_what_each_must_show(tmp_path: Path) -> None:
    cfg = load(
        tmp_path,
        'servers = ["gunicorn", "mod_wsgi"]\nimage = "reg.example/demo"\n'
        'static = { url = "/static/", dir = "staticfiles" }\nsource = "https://git.example/demo"\n',
    )
    matrix = plan.plan_matrix(cfg, native_arch="amd64")
    assert [(c.server, c.platform) for c in matrix.cells] == [
        ("gunicorn", LINUX_AMD64),
        ("gunicorn", LINUX_ARM64),
        ("mod_wsgi", LINUX_AMD64),
        ("mod_wsgi", LINUX_ARM64),
    ]
    first, emulated = matrix.cells[0], matrix.cells[3]
    assert first.image == "reg.example/demo:gunicorn"
    assert first.built
    assert (first.name, first.slug) == ("gunicorn linux/amd64", "gunicorn-linux-amd64")
    assert not first.emulated
    assert emulated.emulated
    assert emulated.ready_timeout == 5 * first.ready_timeout
    assert (first.stop_signal, emulated.stop_signal) == ("SIGTERM", "SIGWINCH")
    assert first.static_dir == "/app/staticfiles"
    assert dict(first.labels) == {
        "org.opencontainers.image.title": "demo",
        "org.opencontainers.image.version": "2.0",
        "org.opencontainers.image.source": "https://git.example/demo",
    }
    assert matrix.all_cells == tuple((c.server, c.platform) for c in matrix.cells)


def test_static_files_are_looked_for_in_the_app_folder(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    cfg = load(
        tmp_path,
        'app-directory = "site"\nstatic = { url = "/static/", dir = "staticfiles" }\n',
    )
    cell = plan.plan_matrix(cfg, native_arch="amd64").cells[0]
    assert cell.static_dir == "/app/site/staticfiles"


def test_given_images_and_a_subset(tmp_path: Path) -> None:
    cfg = load(tmp_path, 'servers = ["gunicorn", "uwsgi"]\n')
    digest = "reg.example/demo@sha256:" + "a" * 64
    images = plan.parse_images([f"uwsgi={digest}"], servers_=["uwsgi"])
    matrix = plan.plan_matrix(
        cfg, servers_=["uwsgi"], platforms=[LINUX_ARM64], images=images, native_arch="arm64"
    )
    (cell,) = matrix.cells
    assert (cell.image, cell.built, cell.emulated) == (digest, False, False)
    assert len(matrix.all_cells) == 4
    # One server tested: a bare reference is its image.
    assert plan.parse_images([digest], servers_=["gunicorn"]) == {"gunicorn": digest}


@pytest.mark.parametrize(
    ("servers", "images", "message"),
    [
        (["cheroot"], [], "'cheroot' is not one of this project's servers"),
        (["gunicorn"], ["uwsgi=reg.example/x:1"], "--image given for uwsgi"),
    ],
)
def test_plan_refuses(tmp_path: Path, servers: list[str], images: list[str], message: str) -> None:
    cfg = load(tmp_path, 'servers = ["gunicorn", "uwsgi"]\n')
    with pytest.raises(ConfigError, match=message):
        plan.plan_matrix(
            cfg,
            servers_=servers,
            images=plan.parse_images(images, servers_=servers),
            native_arch="amd64",
        )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["reg.example/x:1"], "which server's image is it"),
        (["gunicorn=Not A Reference"], "--image 'gunicorn=Not A Reference'"),
        (["gunicorn=a:1", "gunicorn=b:2"], "two references for 'gunicorn'"),
    ],
)
def test_bad_image_options(values: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        plan.parse_images(values, servers_=["gunicorn", "uwsgi"])


def test_cli_refuses_bad_test_options_before_the_engine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write(tmp_path, 'servers = ["gunicorn", "uwsgi"]\n')
    assert cli.main(["--project", str(project), "test", "--jobs", "0"]) == 2
    assert "--jobs 0: run at least one cell" in capsys.readouterr().err
    assert cli.main(["--project", str(project), "test", "--image", "reg.example/x:1"]) == 2
    assert "which server's image is it?" in capsys.readouterr().err
    assert cli.main(["--project", str(project), "test", "--platform", "linux/s390"]) == 2
    assert "unknown architecture" in capsys.readouterr().err


# --------------------------------------------------------------------------- reports


def result(server: str, platform: str, *failed: str) -> report.CellResult:
    outcomes = [Outcome(check="ready", status="passed", message="first 200 after 1.0s")]
    outcomes += [
        Outcome(check=name, status="failed", message=f"{name} broke", detail="GET /\n  -> 500")
        for name in failed
    ]
    outcomes.append(Outcome(check="static", status="skipped", message="no static files"))
    return report.CellResult(
        server=server,
        platform=platform,
        image=f"demo:{server}",
        image_id="sha256:" + "b" * 64,
        outcomes=tuple(outcomes),
        seconds=4.2,
        ready_seconds=1.0,
        latency_ms=(2.5, 9.0),
        size=60 * 2**20,
        log_tail="Traceback (most recent call last):" if failed else "",
        finished="2026-11-22T10:00:00Z",
    )


def test_results_survive_json() -> None:
    original = result("uwsgi", "linux/arm64", "burst")
    again = report.CellResult.from_json(original.to_json())
    assert again == original
    assert not again.passed
    assert again.slug == "uwsgi-linux-arm64"
    assert report.CellResult.from_json('{"schema": 99}') is None
    assert report.CellResult.from_json("not json") is None


def test_table_and_failures() -> None:
    results = [result("gunicorn", "linux/amd64"), result("uwsgi", "linux/arm64", "probe /")]
    lines = report.table(results).splitlines()
    assert lines[0].split() == ["cell", "result", "first", "200", "p50", "p99", "size", "time"]
    assert lines[1].split() == [
        *("gunicorn", "linux/amd64", "passed", "1.0s"),
        *("2.5", "ms", "9.0", "ms", "60.0", "MiB", "4s"),
    ]
    assert "FAILED (1)" in lines[2]
    details = report.failures(results)
    assert details.splitlines()[0] == "uwsgi linux/arm64 (demo:uwsgi):"
    assert "  probe /: probe / broke" in details
    assert "    GET /" in details
    assert "Traceback (most recent call last):" in details


def test_junit_has_a_suite_per_cell_and_a_case_per_check() -> None:
    xml = report.junit([result("gunicorn", "linux/amd64"), result("uwsgi", "linux/arm64", "burst")])
    root = ET.fromstring(xml)
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["gunicorn linux/amd64", "uwsgi linux/arm64"]
    assert [(s.get("tests"), s.get("failures"), s.get("skipped")) for s in suites] == [
        ("2", "0", "1"),
        ("3", "1", "1"),
    ]
    failure = suites[1].find("testcase[@name='burst']/failure")
    assert failure is not None
    assert failure.get("message") == "burst broke"
    assert "-> 500" in (failure.text or "")
    assert suites[1].findtext("system-out") == "Traceback (most recent call last):"


def test_record_keeps_every_cells_latest_result(tmp_path: Path) -> None:
    cells = [("gunicorn", LINUX_AMD64), ("gunicorn", LINUX_ARM64), ("uwsgi", LINUX_AMD64)]
    first = report.record(tmp_path / "build", [result("gunicorn", "linux/amd64", "size")], cells)
    assert first.missing == ("gunicorn linux/arm64", "uwsgi linux/amd64")
    # Another process runs another cell, then the first cell again: the latest wins.
    report.record(tmp_path / "build", [result("uwsgi", "linux/amd64")], cells)
    last = report.record(tmp_path / "build", [result("gunicorn", "linux/amd64")], cells)
    assert [r.name for r in last.results] == ["gunicorn linux/amd64", "uwsgi linux/amd64"]
    assert all(r.passed for r in last.results)
    text = last.markdown.read_text()
    assert "| gunicorn linux/amd64 | passed |" in text
    assert "Not run yet: gunicorn linux/arm64." in text
    root = ET.parse(last.junit).getroot()
    assert len(root.findall("testsuite")) == 2
    assert (tmp_path / "build" / ".containerize-build-dir").is_file()


def test_signal_names_and_percentiles() -> None:
    assert containerchecks._signal_name("15") == "SIGTERM"
    assert containerchecks._signal_name("winch") == "SIGWINCH"
    assert containerchecks._signal_name("SIGQUIT") == "SIGQUIT"
    assert httpchecks._percentile([0.010], 99) == pytest.approx(10.0)
    timings = [i / 1000 for i in range(1, 101)]
    assert httpchecks._percentile(timings, 50) == pytest.approx(50.5)
    assert httpchecks._percentile(timings, 99) == pytest.approx(99.01)


# --------------------------------------------------------------------------- nox


def nox(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``nox ARGS`` in *project*, whose noxfile registers containerize's sessions."""
    (project / "noxfile.py").write_text("import containerize.nox\ncontainerize.nox.register()\n")
    return subprocess.run(
        [sys.executable, "-m", "nox", *args],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )


def test_nox_lists_one_session_per_cell(tmp_path: Path) -> None:
    write(tmp_path, 'servers = ["gunicorn", "uwsgi"]\nplatforms = ["linux/amd64", "linux/arm64"]\n')
    listed = nox(tmp_path, "-l").stdout
    cells = [line.split(" -> ")[0] for line in listed.splitlines() if "test_images(" in line]
    assert cells == [
        "- test_images(server='gunicorn', platform='linux/amd64')",
        "- test_images(server='uwsgi', platform='linux/amd64')",
        "- test_images(server='gunicorn', platform='linux/arm64')",
        "- test_images(server='uwsgi', platform='linux/arm64')",
    ]


def test_a_broken_configuration_still_lists_and_says_why_when_run(tmp_path: Path) -> None:
    write(tmp_path, 'servers = ["gunicron"]\n')
    assert "- test_images ->" in nox(tmp_path, "-l").stdout
    ran = nox(tmp_path, "-s", "test_images")
    assert ran.returncode == 1
    assert "unknown server 'gunicron'" in ran.stderr


def test_a_log_excerpt_keeps_the_first_traceback() -> None:
    cause = ["Traceback (most recent call last):", '  File "app.py", line 1', "RuntimeError: boom"]
    fallout = [f"worker {i} exited" for i in range(50)]
    excerpt = runner.log_excerpt("\n".join(["booting", *cause, *fallout]), lines=5)
    assert excerpt.splitlines() == [*cause, "...", *fallout[-5:]]
    # A traceback already in the tail is not repeated.
    assert runner.log_excerpt("\n".join(["a", *cause]), lines=5) == "\n".join(["a", *cause])


def test_a_deep_traceback_keeps_its_exception_line() -> None:
    frames = [f'  File "m{i}.py", line {i}' for i in range(80)]
    cause = ["Traceback (most recent call last):", *frames, "RuntimeError: the cause"]
    excerpt = runner.log_excerpt("\n".join([*cause, *(f"x{i}" for i in range(40))]), lines=10)
    lines = excerpt.splitlines()
    assert lines[:4] == [*cause[:3], "  ..."]
    assert "RuntimeError: the cause" in lines
    assert lines[-10:] == [f"x{i}" for i in range(30, 40)]
