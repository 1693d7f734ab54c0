"""Build behaviour against the real engine: caching, preflight, dry run, errors."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from containerize import cli, config, process
from containerize.commands.machine import machine
from containerize.engine import builders, buildx, docker, preflight, probes
from containerize.errors import EngineError
from containerize.image import pipeline as images
from containerize.platforms import Platform


def _steps(log: str) -> dict[str, str]:
    """BuildKit's plain progress: each RUN/COPY/ADD step -> 'CACHED' or 'DONE'."""
    names: dict[str, str] = {}
    status: dict[str, str] = {}
    for line in log.splitlines():
        match = re.match(r"^#(\d+) (\[[^\]]+\] (?:RUN|COPY|ADD) .*)$", line)
        if match:
            names[match[1]] = match[2]
            continue
        match = re.match(r"^#(\d+) (CACHED|DONE)", line)
        if match and match[1] in names:
            status.setdefault(names[match[1]], match[2])
    return status


def _layers(image: str) -> list[str]:
    """The image's layers (their uncompressed digests, the engine's platform), in order."""
    found = docker.run("image", "inspect", "--format", "{{json .RootFS.Layers}}", image)
    layers: list[str] = json.loads(found.stdout)
    return layers


def test_code_only_change_rebuilds_only_the_application_layer(
    make_project: Callable[[str], Path], base_image: str, session_id: str
) -> None:
    project = make_project("hello-wsgi")
    cfg = config.load(
        project,
        overrides={"image": f"containerize-test/cache-{session_id}", "servers": ["gunicorn"]},
    )
    prepared = images.prepare(cfg, machine(engine=True), output="load")
    inv = prepared.invocations[0]
    buildx.build(inv, stream=False)
    before = _layers(inv.tags[0])

    hello = project / "hello.py"
    # A change BuildKit has never seen: its cache is content-addressed across runs.
    hello.write_text(hello.read_text() + f"\n# {uuid.uuid4()}\n")
    prepared = images.prepare(cfg, machine(engine=True), output="load")
    log = buildx.build(prepared.invocations[0], stream=False).log
    steps = _steps(log)
    ran = sorted(step for step, state in steps.items() if state == "DONE")
    cached = sorted(step for step, state in steps.items() if state == "CACHED")
    # The new code is imported once, on this machine's platform, for both targets (one
    # BuildKit step, not one per platform), and gathered with fixed timestamps by that
    # same step once it imported; each platform then copies it. Nothing else runs: no
    # install, no compile, no step waiting on the check, and the image changes in its
    # app layer only.
    check = (
        "RUN --network=none --mount=type=bind,source=app,target=/containerize-app     "
        "/opt/venv/bin/python /opt/containerize/containerize_wsgi.py "
        "--check --verdict /tmp/containerize/files/opt/containerize/import-check.json "
        "--server-module gunicorn.app.wsgiapp --server gunicorn  "
        "&& mkdir -p /tmp/containerize/files/app  "
        "&& cp -R /containerize-app/. /tmp/containerize/files/app/  "
        "&& env PYTHONHASHSEED=0 /opt/venv/bin/python -c 'import compileall, py_compile, sys; "
        "compileall.compile_dir(sys.argv[1], ddir=sys.argv[2], quiet=1, workers=0, "
        "invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)' "
        "/tmp/containerize/files/app /app  "
        "&& find /tmp/containerize/files -exec touch --no-dereference --date=@315532800 '{}' +"
    )
    copy = "COPY --link --chown=0:0 --from=app-gunicorn /tmp/containerize/files/ /"
    ran_steps = {re.sub(r" \d+/\d+\]", "]", step) for step in ran}
    assert {
        "[linux/amd64 app-gunicorn] COPY app/ /app/",
        f"[linux/amd64 app-gunicorn] {check}",
        f"[linux/amd64 gunicorn] {copy}",
        f"[linux/arm64 gunicorn] {copy}",
    } <= ran_steps, log
    step = rf"^#(\d+) \[linux/amd64 app-gunicorn \d+/\d+\] {re.escape(check)}$"
    assert len(set(re.findall(step, log, re.M))) == 1, log
    assert any("server-gunicorn" in step for step in cached), log
    # No install and no compile ran: the check is the one RUN step.
    assert [step for step in ran if "RUN" in step and check not in step] == [], log
    # Beyond those, BuildKit may run a cheap step again whose inputs did not change
    # (seen once, in a full parallel run on a fresh machine: the check stage's copies of
    # containerize's own files, whose layers came out the same). What the change
    # promises does not rest on the cache's state: the image differs in its app layer,
    # its last, and nowhere else.
    after = _layers(prepared.invocations[0].tags[0])
    assert len(after) == len(before), (before, after)
    assert [i for i, (was, now) in enumerate(zip(before, after, strict=True)) if was != now] == [
        len(after) - 1
    ], (before, after)
    # The image still serves the changed code: the checked app, owned by root.
    image = prepared.invocations[0].tags[0]
    listed = docker.run(
        "run", "--rm", "--platform", "linux/amd64", "--entrypoint", "sh", image, "-c",
        "stat -c '%u:%g %Y %n' /app /app/hello.py && tail -n 1 /app/hello.py"
        " && ls /app/__pycache__",
        timeout=120,
    ).stdout.splitlines()  # fmt: skip
    assert listed[:2] == ["0:0 315532800 /app", "0:0 315532800 /app/hello.py"], listed
    assert listed[2] == hello.read_text().splitlines()[-1], listed
    # Compiled in the same step: no start compiles the app again.
    assert any(line.startswith("hello.cpython-") for line in listed[3:]), listed
    for tag in prepared.invocations[0].tags:
        process.run(["docker", "image", "rm", "--force", tag], check=False)


def test_preflight_stops_a_platform_without_emulator(hello_project: Path, engine: None) -> None:
    info = builders.parse_inspect(process.run(["docker", "buildx", "inspect"]).stdout)
    candidates = ["linux/s390x", "linux/ppc64le", "linux/riscv64"]
    unsupported = next((p for p in candidates if p not in info.platforms), None)
    if unsupported is None:
        pytest.fail(f"every candidate platform is emulated here: {info.platforms}")
    cfg = config.load(hello_project, overrides={"platforms": ["linux/amd64", unsupported]})
    with pytest.raises(EngineError, match=f"cannot build for {unsupported}") as raised:
        preflight.preflight(cfg.platforms, builder=cfg.builder)
    assert raised.value.hint is not None
    assert "qemu" in raised.value.hint


def test_preflight_names_a_daemon_that_does_not_answer(
    tmp_path: Path, engine: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real docker CLI, pointed at a socket nothing listens on: 'buildx inspect'
    # exits 0 there, with an Error line, and the preflight still names the cause.
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    with pytest.raises(EngineError, match=r"^no Docker daemon answers\n") as raised:
        preflight.preflight([Platform.parse("linux/amd64")], builder=None)
    assert raised.value.hint is not None
    assert "DOCKER_HOST" in raised.value.hint


def test_a_base_without_this_machines_platform_is_refused_before_building(
    hello_project: Path, base_image: str, session_id: str
) -> None:
    # The venvs are made on this machine's platform from the same base image: a base
    # that has only the foreign platform (an index of the real base's foreign
    # manifest, made in the loopback registry) is refused by name, before any build.
    native = probes.native_arch()
    foreign = "arm64" if native == "amd64" else "amd64"
    index = buildx.imagetools_inspect(base_image)
    assert index is not None
    manifests = index["manifests"]
    assert isinstance(manifests, list)
    digest = next(m["digest"] for m in manifests if m["platform"]["architecture"] == foreign)
    only = f"{base_image.rsplit(':', 1)[0]}-test:{foreign}-only-{session_id}"
    repo = base_image.split("@", 1)[0].rsplit(":", 1)[0]
    process.run(docker.buildx_argv("imagetools", "create", "--tag", only, f"{repo}@{digest}"))
    cfg = config.load(
        hello_project, overrides={"base-image": only, "platforms": [f"linux/{foreign}"]}
    )
    with pytest.raises(EngineError, match=f"has no linux/{native} variant") as raised:
        images.resolve(cfg, machine(engine=True), record_pin=False)
    assert f"installs the wheels of every platform on this machine's (linux/{native})" in str(
        raised.value
    )
    assert raised.value.hint is not None
    assert "containerize base-image" in raised.value.hint


def test_cli_refuses_unknown_platform_before_building(
    hello_project: Path, engine: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["--project", str(hello_project), "build", "--platform", "linux/s390x"])
    err = capsys.readouterr().err
    assert code == EngineError.exit_code
    assert "cannot build for linux/s390x" in err
    assert "Traceback" not in err


def test_dry_run_prints_and_runs_nothing(
    hello_project: Path, engine: None, capsys: pytest.CaptureFixture[str]
) -> None:
    build_dir = hello_project / ".containerize"
    before = sorted(build_dir.rglob("*")) if build_dir.exists() else []
    assert cli.main(["--project", str(hello_project), "build", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "FROM runtime AS mod_wsgi" in out
    assert "docker buildx build --progress auto" in out
    assert "--platform linux/amd64,linux/arm64" in out
    after = sorted(build_dir.rglob("*")) if build_dir.exists() else []
    assert after == before


def test_bake_file_builds_with_buildx_bake(
    tmp_path: Path, make_project: Callable[[str], Path], base_image: str
) -> None:
    project = make_project("hello-wsgi")
    # Its own image name: the cleanup below must not remove anybody else's tags.
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "containerize-examples/hello-wsgi", f"containerize-test/bake-{uuid.uuid4().hex[:8]}"
        )
    )
    bake = tmp_path / "docker-bake.json"
    args = ["--project", str(project), "build", "--server", "gunicorn", "--bake", str(bake)]
    assert cli.main(args) == 0
    document = json.loads(bake.read_text())
    assert document["group"]["default"]["targets"] == ["gunicorn"]
    target = document["target"]["gunicorn"]
    assert target["platforms"] == ["linux/amd64", "linux/arm64"]
    # One context per platform's folder of the wheelhouse.
    assert Path(target["contexts"]["wheelhouse-linux-arm64"]).is_dir()
    assert Path(target["contexts"]["wheelhouse-linux-amd64"]).is_dir()
    # A real bake build of that file (cached layers from the other builds make it quick).
    process.run(["docker", "buildx", "bake", "--file", str(bake), "--progress", "plain"])
    for tag in target["tags"]:
        process.run(["docker", "image", "inspect", tag])
        process.run(["docker", "image", "rm", "--force", tag], check=False)


def test_wheelhouse_writes_the_wheelhouse_only(
    make_project: Callable[[str], Path], base_image: str, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project("hello-wsgi")
    assert cli.main(["--project", str(project), "wheelhouse", "-v"]) == 0
    out = capsys.readouterr().out
    assert "linux/arm64:" in out
    assert "containerize pin" in out  # the digest it used, and how to record it
    build_dir = project / ".containerize"
    assert sorted(p.name for p in build_dir.iterdir()) == [
        ".containerize-build-dir",
        ".lock",
        "wheelhouse",
    ]
    assert not (project / "containerize.lock").exists()
