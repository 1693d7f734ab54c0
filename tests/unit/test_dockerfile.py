"""The plan and its rendering, without an engine."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from packaging.utils import canonicalize_name
from test_escape import buildkit_words

from containerize import config, reference, servers, staticfiles, syspackages
from containerize.engine import buildx
from containerize.errors import ConfigError
from containerize.image import buildcache, compilefile, dockerfile, layerfolders, layers, pins, plan
from containerize.platforms import LINUX_AMD64, LINUX_ARM64, Platform
from containerize.resolve.wheelhouse import Needs
from containerize.runtime import containerize_wsgi
from containerize.writablepaths import WritablePath

CREATED = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
BASE = "127.0.0.1:5000/containerize/python:3.11-bookworm@sha256:" + "a" * 64


@pytest.fixture
def hello(fixtures_dir: Path) -> config.Config:
    return config.load(fixtures_dir / "hello-wsgi", environ={})


#: Dependencies like the bench's Django project's: two large packages (Django pure,
#: Pillow with C extensions) and small ones, pure and not.
GOLDEN_PACKAGES = (
    layers.LayerPackage(name=canonicalize_name("django"), size=8_300_000, pure=True),
    layers.LayerPackage(name=canonicalize_name("pillow"), size=4_500_000, pure=False),
    layers.LayerPackage(name=canonicalize_name("asgiref"), size=24_000, pure=True),
    layers.LayerPackage(name=canonicalize_name("sqlparse"), size=44_000, pure=True),
    layers.LayerPackage(name=canonicalize_name("markupsafe"), size=21_000, pure=False),
    layers.LayerPackage(name=canonicalize_name("whitenoise"), size=20_000, pure=True),
)


def make(cfg: config.Config, *, native_arch: str = "amd64", **needs: object) -> plan.BuildPlan:
    defaults: dict[str, object] = {
        "base_has_sdists": False,
        "server_has_sdists": {"mod_wsgi": True},
        "base_is_empty": False,
    }
    defaults.update(needs)
    made = plan.make_plan(
        cfg,
        base=reference.parse(BASE, where="base image"),
        python="/usr/bin/python3",
        python_version=(3, 11),
        needs=Needs(**defaults),  # type: ignore[arg-type]
        revision="0123abc",
        created=CREATED,
        native_arch=native_arch,
    )
    # The dependency layers of GOLDEN_PACKAGES, and the servers whose wheels are pure
    # (gunicorn, cheroot) marked so: what a selection of such a lock plans.
    return replace(
        made,
        layers=layers.plan(GOLDEN_PACKAGES) if made.base_manifest else made.layers,
        servers=tuple(replace(s, pure=s.name in {"gunicorn", "cheroot"}) for s in made.servers),
    )


def stage(text: str, name: str) -> str:
    """The lines of one stage, from its FROM to the next blank line."""
    start = text.index(f" AS {name}\n")
    start = text.rindex("\n", 0, start) + 1
    end = text.find("\n\n", start)
    return text[start:end]


GOLDEN = Path(__file__).resolve().parents[1] / "data" / "hello-wsgi.Dockerfile"


def test_render_matches_the_reviewed_dockerfile(hello: config.Config) -> None:
    """The whole Dockerfile, as reviewed. With CONTAINERIZE_REGEN=1 a changed rendering
    is written to the golden file and the test still fails: read the diff, then run the
    tests again without it."""
    text = dockerfile.render(make(hello))
    reviewed = GOLDEN.read_text() if GOLDEN.exists() else None
    if text != reviewed and os.environ.get("CONTAINERIZE_REGEN"):
        GOLDEN.write_text(text)
        pytest.fail(
            f"the rendering changed and {GOLDEN} was regenerated: review the diff "
            f"(git diff -- {GOLDEN.relative_to(GOLDEN.parents[2])}), then run the tests "
            "again without CONTAINERIZE_REGEN"
        )
    assert reviewed is not None, f"{GOLDEN} is missing: run once with CONTAINERIZE_REGEN=1"
    assert text == reviewed, "the rendering changed: run with CONTAINERIZE_REGEN=1 and review"


def test_env_and_labels_are_quoted_literally(hello: config.Config) -> None:
    cfg = replace(hello, env=(("GREETING", 'say "hi" for $5 \\ café'),))
    text = dockerfile.render(make(cfg))
    assert 'GREETING="say \\"hi\\" for \\$5 \\\\ café"' in text


def test_tags_are_valid_for_local_versions(hello: config.Config) -> None:
    cfg = replace(hello, version="1.0+local.2")
    assert plan.tags_for(cfg, "gunicorn")[1].endswith(":1.0-local.2-gunicorn")


def test_variant_platforms_find_their_wheelhouse_folder() -> None:
    assert Platform.parse("linux/arm/v7").slug == "linux-armv7"
    assert LINUX_ARM64.slug == "linux-arm64"


def test_one_final_target_per_server_with_its_stop_signal(hello: config.Config) -> None:
    text = dockerfile.render(make(hello))
    assert "FROM runtime AS gunicorn" in text
    assert "FROM runtime AS uwsgi" in text
    assert "FROM runtime AS mod_wsgi" in text
    assert "STOPSIGNAL SIGTERM" in stage(text, "gunicorn")
    assert "STOPSIGNAL SIGWINCH" in stage(text, "mod_wsgi")
    for name in ("gunicorn", "uwsgi", "mod_wsgi", "cheroot"):
        final = stage(text, name)
        assert 'ENTRYPOINT ["/opt/venv/bin/python", "/opt/containerize/start.py"]' in final
        assert f"COPY --link --from=files-{name} /files/ /" in final
        assert f"source=containerize/{name},target=/source-0 \\\n" in stage(text, f"files-{name}")


def test_installs_are_offline_hash_checked_and_bind_mounted(hello: config.Config) -> None:
    text = dockerfile.render(make(hello))
    deps = stage(text, "layer-pillow")
    assert (
        "RUN --network=none --mount=type=bind,from=wheels,source=layers/layer-pillow,"
        "target=/wheelhouse"
    ) in deps
    # Each platform's folder is a context of its own, chosen by the target platform.
    wheels = "FROM wheelhouse-${TARGETOS}-${TARGETARCH}${TARGETVARIANT} AS wheels"
    assert wheels in text
    assert "--mount=type=bind,from=tools,target=/tools" in deps
    assert "--mount=type=bind,source=containerize/buildsteps,target=/containerize-steps" in deps
    assert (
        "/usr/bin/python3 /containerize-steps/wheels.py install --venv /opt/venv "
        "--wheelhouse /wheelhouse --tools /tools --python-version 3.11 --root /layer "
        "--compile install.json"
    ) in deps
    assert "COPY --from=wheelhouse" not in text
    assert "pip install" not in text
    assert "/opt/containerize/pip" not in text
    # Pure wheels are read from the first platform's folder, the same for every target.
    assert "from=pure-wheels,source=layers/layer-django," in stage(text, "layer-django")
    assert "FROM wheelhouse-linux-amd64 AS pure-wheels" in text
    assert "from=pure-wheels,source=layers/server-gunicorn," in stage(text, "server-gunicorn")


def _froms(text: str) -> dict[str, str]:
    return {
        line.rsplit(" AS ", 1)[1]: line
        for line in text.splitlines()
        if line.startswith("FROM ") and " AS " in line
    }


def test_only_os_packages_run_on_the_target_platform(hello: config.Config) -> None:
    """Creating the venvs, placing wheels, compiling bytecode and writing the user
    never run emulated: they are in stages of the build platform. The import check runs
    on the check platform (this machine's), once for every target: from the check
    venv itself, nothing copied. Only stages that install OS packages are the target's."""
    text = dockerfile.render(make(hello))
    froms = _froms(text)
    # The wheelhouse folders: build contexts, not stages that run anything.
    contexts = {"wheels", "check-wheels", "pure-wheels"}
    assert {n for n, line in froms.items() if " wheelhouse-" in line} == contexts
    for name in contexts:
        del froms[name]
    assert froms["builder"] == "FROM --platform=${BUILDPLATFORM} ${BASE_IMAGE} AS builder"
    assert froms["base"] == "FROM ${BASE_IMAGE} AS base"
    native = {"builder"}
    for name, line in froms.items():
        if line.split()[1] in native:
            native.add(name)
    servers = hello.servers
    layer_stages = {layer.name for layer in make(hello).layers.layers}
    assert native == {"builder", "venv-skeleton", "check-deps", "users"} | layer_stages | {
        f"check-{name}" for name in ("layer-pillow", "layer-native-0")
    } | {
        f"{prefix}-{s}" for s in servers for prefix in ("server", "check-venv", "app", "files")
    } | {
        "files-runtime",
        "check-server-uwsgi",
        "check-server-mod_wsgi",
    }
    checks = {f"app-{s}" for s in servers}
    for server in servers:
        assert froms[f"app-{server}"] == f"FROM check-venv-{server} AS app-{server}"
    target = set(froms) - native - checks
    assert target == {"base", "runtime", *servers}
    for name in froms:
        body = stage(text, name)
        assert ("--check" in body) == (name in checks), name
        if name in native | checks:
            assert "apt-get" not in body, name
        if name in target:
            assert "wheels.py install" not in body, name
            assert "--compile" not in body, name
            # What runs on the target: OS packages, nothing else.
            runs = [line for line in body.splitlines() if line.startswith("RUN")]
            assert len(runs) == body.count("apt-get update"), name
    # The venv is made once, natively, with the base image's interpreter.
    assert stage(text, "builder").endswith(
        "RUN --network=none /usr/bin/python3 -m venv --without-pip /opt/venv"
    )


def test_the_check_stages_name_no_target_platform(hello: config.Config) -> None:
    """BuildKit runs a stage once for every target platform only when its text and its
    arguments are the same for each: the check stages read the check platform's
    wheelhouse folder by name and declare no TARGET* argument."""
    text = dockerfile.render(make(hello))
    checks = ["check-deps", "check-layer-pillow", "check-server-uwsgi"]
    for name in [*checks, *(f"{p}-{s}" for s in hello.servers for p in ("check-venv", "app"))]:
        body = stage(text, name)
        assert "ARG" not in body, name
        assert "TARGET" not in body, name
    assert "FROM wheelhouse-linux-amd64 AS check-wheels" in text
    # The same instructions as the target's layers, with the check platform's wheels:
    # for that target, BuildKit runs them once for both. Pure layers are shared.
    for name in ("layer-pillow", "layer-native-0", "server-uwsgi", "server-mod_wsgi"):
        own = stage(text, name).replace("from=wheels,", "from=check-wheels,")
        check = stage(text, f"check-{name}")
        assert own.split("\n", 1)[1] == check.split("\n", 1)[1], name
    # Linked as in the images: a linked copy of a layer is the same step wherever it
    # lands, so BuildKit copies each layer once for the check venvs and every image.
    deps = stage(text, "check-deps")
    assert "COPY --link --from=layer-django /layer/ /" in deps
    assert "COPY --link --from=check-layer-pillow /layer/ /" in deps
    assert "COPY --link --from=layer-django /layer/ /" in stage(text, "gunicorn")
    gunicorn = stage(text, "check-venv-gunicorn")
    assert gunicorn.endswith("COPY --link --from=server-gunicorn /layer/ /")
    uwsgi = stage(text, "check-venv-uwsgi")
    assert uwsgi.endswith("COPY --link --from=check-server-uwsgi /layer/ /")
    for layer in make(hello).layers.layers:
        assert "ARG" not in stage(text, layer.name), layer.name
        assert "TARGET" not in stage(text, layer.name) or not layer.pure, layer.name


def test_the_check_runs_on_a_target_this_machine_runs_natively(hello: config.Config) -> None:
    both = (LINUX_AMD64, LINUX_ARM64)
    assert plan.check_platform(both, "amd64") == LINUX_AMD64
    assert plan.check_platform(both, "arm64") == LINUX_ARM64
    assert plan.check_platform((LINUX_ARM64, LINUX_AMD64), "amd64") == LINUX_AMD64
    # Only arm64 on an amd64 machine: the wheelhouse has arm64's wheels only, so the
    # check runs on arm64, emulated, but still once.
    assert plan.check_platform((LINUX_ARM64,), "amd64") == LINUX_ARM64
    # The venv, made natively with arm64's wheels, is copied onto arm64's base.
    text = dockerfile.render(make(replace(hello, platforms=(LINUX_ARM64,))))
    assert (
        "FROM --platform=linux/arm64 ${BASE_IMAGE} AS app-gunicorn\n"
        "COPY --from=check-venv-gunicorn /opt/venv /opt/venv\n"
    ) in text
    assert "FROM wheelhouse-linux-arm64 AS check-wheels" in text
    # On an arm64 machine, arm64 is the check platform, and native.
    on_arm = dockerfile.render(make(hello, native_arch="arm64"))
    assert "FROM check-venv-cheroot AS app-cheroot\n" in on_arm
    assert "FROM wheelhouse-linux-arm64 AS check-wheels" in on_arm


def test_without_check_or_static_command_no_check_venvs(hello: config.Config) -> None:
    text = dockerfile.render(make(replace(hello, import_check=False)))
    assert "check-deps" not in text
    assert "check-venv" not in text


def test_a_static_command_without_the_check_needs_only_check_deps(hello: config.Config) -> None:
    static = config.StaticFiles(url="/static/", dir="staticfiles", command=("make-static",))
    text = dockerfile.render(make(replace(hello, import_check=False, static=static)))
    assert "FROM builder AS check-deps" in text
    assert " AS check-venv" not in text
    assert "--check" not in text
    assert stage(text, "static").startswith("FROM check-deps AS static\nENV ")
    assert "WORKDIR /app\nCOPY app/ /app/\nRUN " in stage(text, "static")
    # Not native (only arm64, on an amd64 machine): check-deps' venv onto arm64's base.
    elsewhere = dockerfile.render(
        make(replace(hello, import_check=False, static=static, platforms=(LINUX_ARM64,)))
    )
    assert stage(elsewhere, "static").startswith(
        "FROM --platform=linux/arm64 ${BASE_IMAGE} AS static\n"
        "COPY --from=check-deps /opt/venv /opt/venv\n"
    )


def test_the_user_is_written_natively_from_the_targets_own_files(hello: config.Config) -> None:
    text = dockerfile.render(make(hello))
    users = stage(text, "users")
    assert users.startswith("FROM builder AS users\n")
    # The target's files are read through a mount (whatever its architecture), and
    # the app's lines appended: no useradd, so no dates in /etc/shadow.
    assert "--mount=type=bind,from=base,source=/etc/passwd,target=/base-etc/passwd" in users
    assert "--mount=type=bind,from=base,source=/etc/group,target=/base-etc/group" in users
    assert "cp /base-etc/passwd /base-etc/group /users/etc/" in users
    assert "echo 'app:x:10001:' >> /users/etc/group" in users
    assert "'app:x:10001:10001:containerize app:/home/app:/usr/sbin/nologin'" in users
    assert "chown 10001:10001 /users/home/app && chmod 0750 /users/home/app" in users
    assert "mkdir -p /users/etc /users/home/app /users/app" in users
    assert "find /users -exec touch --no-dereference --date=@315532800 '{}' +" in users
    assert "useradd" not in text
    runtime = stage(text, "runtime")
    # From the staging root onto /: no folder made with the build's date.
    assert "COPY --link --from=users /users/ /" in runtime
    assert not any(line.startswith("RUN") for line in runtime.splitlines())


def test_build_tools_only_where_an_sdist_needs_them(hello: config.Config) -> None:
    p = make(hello)
    text = dockerfile.render(p)
    assert "apt-get" not in stage(text, "server-gunicorn")
    assert "gcc" not in text
    final = stage(text, "mod_wsgi")
    assert "apache2 libpython3.11" in final
    assert "apt-get" not in stage(text, "gunicorn")
    compiling = compilefile.render_compile(p)
    assert "apache2-dev gcc libc6-dev python3-dev" in stage(compiling, "compile")


def test_sdists_compile_on_the_target_platform_from_a_native_build_env(
    hello: config.Config,
) -> None:
    text = compilefile.render_compile(make(hello))
    env = stage(text, "build-env")
    assert env.startswith("FROM --platform=${BUILDPLATFORM} ${BASE_IMAGE} AS build-env")
    assert "--with pip build-env.json" in env
    compiling = stage(text, "compile")
    assert compiling.startswith("FROM ${BASE_IMAGE} AS compile")
    assert "COPY --link --from=build-env /opt/build-env /opt/build-env" in compiling
    assert compiling.splitlines()[-1] == (
        "    /opt/build-env/bin/python /containerize-steps/wheels.py build "
        "--wheelhouse /wheelhouse --out /wheels "
        "--base-packages /opt/containerize-base-packages.txt "
        "--system-package apache2-dev --system-package gcc --system-package libc6-dev "
        "--system-package python3-dev compile.json"
    )
    # The base image's packages are listed before anything is installed.
    listing = compiling.index("dpkg-query --show")
    assert listing < compiling.index("apt-get install")
    assert "RUN --network=none --mount=type=bind,from=wheelhouse," in compiling
    assert text.endswith("FROM scratch AS wheels\nCOPY --link --from=compile /wheels/ /\n")


def test_compile_invocation_exports_the_wheels_per_platform(
    hello: config.Config, tmp_path: Path
) -> None:
    inv = plan.compile_invocation(
        make(hello),
        context=tmp_path / "compile",
        wheelhouse=tmp_path / "wh",
        tools=tmp_path / "tools",
        platforms=[LINUX_ARM64],
        dest=tmp_path / "out",
        builder=None,
    )
    assert buildx.argv(inv) == [
        "docker", "buildx", "build", "--progress", "auto",
        "--file", str(tmp_path / "compile" / "Dockerfile"),
        "--target", "wheels",
        "--platform", "linux/arm64",
        "--build-context", f"tools={tmp_path / 'tools'}",
        "--build-context", f"wheelhouse={tmp_path / 'wh'}",
        "--provenance", "false",
        "--output", f"type=local,dest={tmp_path / 'out'},platform-split=true",
        str(tmp_path / "compile"),
    ]  # fmt: skip


def test_dependency_layers_come_before_the_application(hello: config.Config) -> None:
    text = dockerfile.render(make(hello))
    final = stage(text, "gunicorn").splitlines()
    copies = [line for line in final if line.startswith("COPY")]
    # The venv in layers, in the plan's order: skeleton, dependencies, the server.
    planned = [layer.name for layer in make(hello).layers.layers]
    venv = ["venv-skeleton", *planned, "server-gunicorn"]
    assert copies[: len(venv)] == [f"COPY --link --from={name} /layer/ /" for name in venv]
    rest = copies[len(venv) :]
    # containerize's files, each from a files stage that gathers them under their paths
    # with fixed timestamps, and the app, gathered so by the step that imported it,
    # copied onto /: no folder made with the build's date, no file with the context's,
    # so a rebuild gives the same layers; the app owned by root, as the files stages'.
    assert rest[:3] == [
        "COPY --link --from=files-runtime /files/ /",
        "COPY --link --from=files-gunicorn /files/ /",
        "COPY --link --chown=0:0 --from=app-gunicorn /tmp/containerize/files/ /",
    ]
    assert stage(text, "files-runtime") == (
        "FROM builder AS files-runtime\n"
        "RUN --network=none --mount=type=bind,source=containerize/runtime,target=/source-0 \\\n"
        "    mkdir -p /files/opt/containerize \\\n"
        " && cp -R /source-0/. /files/opt/containerize/ \\\n"
        # Bytecode compiled, named as the image's files, with no timestamp in it: no
        # start compiles them again, and the same sources give the same layer.
        " && { env PYTHONHASHSEED=0 /usr/bin/python3 -m compileall -q -j 0 --invalidation-mode"
        " checked-hash -d /opt/containerize /files/opt/containerize || true; } \\\n"
        " && find /files -exec touch --no-dereference --date=@315532800 '{}' +"
    )
    # The app comes last, from the stage that imported it: nothing runs in the image
    # after it is copied, and a code change reruns only the import check's step, which
    # gathers the app once the import succeeded: no stage of its own waits for it.
    assert "app-files-gunicorn" not in text
    # Every server's image stacks the same dependency layers.
    for server in hello.servers:
        assert f"COPY --link --from={planned[0]} /layer/ /" in stage(text, server)
    assert not any(line.startswith("RUN") for line in final)
    assert "USER 10001:10001" in final
    check = stage(text, "app-gunicorn")
    # The import runs on the check platform, in the check platform's venv stage.
    assert check.startswith(
        "FROM check-venv-gunicorn AS app-gunicorn\nCOPY containerize/runtime/ /opt/containerize/\n"
    )
    # Never exported: no --link, whose merge of every layer below would be redone on
    # each code change.
    assert "--link" not in check
    # The check first, as the app's user; only if it passed, the app gathered from the
    # context (never what the check wrote), its bytecode compiled, its dates fixed.
    assert check.endswith(
        "USER 10001:10001\n"
        "RUN --network=none --mount=type=bind,source=app,target=/containerize-app \\\n"
        "    /opt/venv/bin/python /opt/containerize/containerize_wsgi.py --check --verdict"
        " /tmp/containerize/files/opt/containerize/import-check.json"
        " --server-module gunicorn.app.wsgiapp --server gunicorn \\\n"
        " && mkdir -p /tmp/containerize/files/app \\\n"
        " && cp -R /containerize-app/. /tmp/containerize/files/app/ \\\n"
        " && env PYTHONHASHSEED=0 /opt/venv/bin/python -c 'import compileall, py_compile, sys;"
        " compileall.compile_dir(sys.argv[1], ddir=sys.argv[2], quiet=1, workers=0,"
        " invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)'"
        " /tmp/containerize/files/app /app \\\n"
        " && find /tmp/containerize/files -exec touch --no-dereference --date=@315532800 '{}' +"
    )
    # The app is copied before the step alone: the ENV and the WORKDIR stay cached.
    assert "WORKDIR /app\nCOPY app/ /app/\nUSER 10001:10001\n" in check


def test_without_the_import_check_the_app_comes_from_the_context(hello: config.Config) -> None:
    text = dockerfile.render(make(replace(hello, import_check=False)))
    assert "app-gunicorn" not in text
    assert "COPY --link --from=app-files-gunicorn /files/ /" in stage(text, "gunicorn")
    app = stage(text, "app-files-gunicorn")
    assert "--mount=type=bind,source=app,target=/source-0 \\\n" in app
    assert " && cp -R /source-0/. /files/app/ \\\n" in app
    assert "--check" not in text


COLLECTSTATIC = config.StaticFiles(
    url="/static/", dir="staticfiles", command=("python", "manage.py", "collectstatic")
)


def test_a_python_static_command_runs_in_the_first_import_check(hello: config.Config) -> None:
    cfg = replace(hello, static=COLLECTSTATIC, servers=("gunicorn", "cheroot"))
    text = dockerfile.render(make(cfg))
    # No stage of its own: the framework is loaded once, by the check's process.
    assert " AS static\n" not in text
    first = stage(text, "app-gunicorn")
    assert (
        "USER 10001:10001\nRUN --network=none --mount=type=bind,source=app,"
        "target=/containerize-app \\\n    --mount=type=tmpfs,target=/app/staticfiles \\\n"
    ) in first
    # Right after the check (which writes the verdict first), in the same process.
    assert "--server gunicorn --then python manage.py collectstatic \\\n" in first
    # Gathered with its parents, 0755 as a folder the command makes, fixed timestamps.
    assert (
        " && mkdir -p /tmp/containerize/static/app \\\n"
        " && cp -a /app/staticfiles /tmp/containerize/static/app/ \\\n"
        " && chmod 0755 /tmp/containerize/static/app/staticfiles \\\n"
        " && find /tmp/containerize/static -exec touch --no-dereference --date=@315532800 '{}' +"
    ) in first
    assert "--then" not in stage(text, "app-cheroot")
    assert "tmpfs" not in stage(text, "app-cheroot")
    for server in cfg.servers:
        # Every image takes the checked app folder, then the static files, both root's.
        final = stage(text, server)
        checked = f"COPY --link --chown=0:0 --from=app-{server} /tmp/containerize/files/ /"
        static = "COPY --link --chown=0:0 --from=app-gunicorn /tmp/containerize/static/ /"
        assert final.index(checked) < final.index(static)


@pytest.mark.parametrize(
    "command",
    [
        ("make-static",),
        ("python", "-W", "ignore", "manage.py", "collectstatic"),
        ("python",),
        ("python", "-m"),
        ("sh", "-c", "python manage.py collectstatic"),
    ],
)
def test_other_static_commands_keep_their_stage_beside_the_checks(
    hello: config.Config, command: tuple[str, ...]
) -> None:
    static = config.StaticFiles(url="/static/", dir="staticfiles", command=command)
    cfg = replace(hello, static=static, servers=("gunicorn", "cheroot"))
    text = dockerfile.render(make(cfg))
    made = stage(text, "static")
    # Once, on the check platform, beside the import checks: neither stage reads the
    # other, so BuildKit runs them at once.
    assert made.startswith("FROM check-deps AS static\nENV ")
    for server in cfg.servers:
        check = stage(text, f"app-{server}")
        assert "--then" not in check
        assert "tmpfs" not in check
        assert "USER 10001:10001\nRUN --network=none --mount=type=bind,source=app," in check
        final = stage(text, server)
        checked = f"COPY --link --chown=0:0 --from=app-{server} /tmp/containerize/files/ /"
        assert final.index(checked) < final.index("COPY --link --from=static /static-layer/ /")


def test_static_commands_the_check_runs(hello: config.Config) -> None:
    assert staticfiles.runs_in_python(("python", "manage.py", "collectstatic", "--noinput"))
    assert staticfiles.runs_in_python(("python3.11", "-m", "mkdocs", "build"))
    assert staticfiles.runs_in_python(("/opt/venv/bin/python", "build.py"))
    assert not staticfiles.runs_in_python(("python", "-c", "print()"))
    assert not staticfiles.runs_in_python(("pythonista", "x.py"))
    assert not staticfiles.runs_in_python(("python", "-m", "not a module"))
    # The image's side (containerize_wsgi.py --then, standard library only) names the
    # interpreter the same way.
    assert containerize_wsgi.PYTHON.pattern == staticfiles.PYTHON.pattern
    # A static folder no mount option can name keeps the stage of its own.
    odd = config.StaticFiles(
        url="/static/", dir="static files", command=("python", "manage.py", "collectstatic")
    )
    assert " AS static\n" in dockerfile.render(make(replace(hello, static=odd)))
    # So does one the check mounts a writable path in, or around.
    for path, folder in (("staticfiles", True), ("staticfiles/cache", True), ("media", False)):
        cfg = replace(
            hello, static=COLLECTSTATIC, writable=(WritablePath(path=path, folder=folder),)
        )
        text = dockerfile.render(make(cfg))
        assert (" AS static\n" in text) == (path != "media"), path


def test_without_the_import_check_static_files_come_from_their_own_stage(
    hello: config.Config,
) -> None:
    text = dockerfile.render(make(replace(hello, static=COLLECTSTATIC, import_check=False)))
    made = stage(text, "static")
    # Made once, on the check platform, with the check platform's venv.
    assert made.startswith("FROM check-deps AS static\nENV ")
    assert "WORKDIR /app\nCOPY app/ /app/\n" in made
    assert (
        "RUN --network=none python manage.py collectstatic \\\n && mkdir -p /app/staticfiles"
        in made
    )
    final = stage(text, "gunicorn")
    assert "COPY --link --from=app-files-gunicorn /files/ /\n" in final
    assert "COPY --link --from=static /static-layer/ /" in final
    # The folder with its parents, with fixed timestamps: the same files, the same layer.
    assert (
        " && cp -a /app/staticfiles /static-layer/app/ \\\n"
        " && find /static-layer -exec touch --no-dereference --date=@315532800 '{}' +"
    ) in made


def test_runtime_stage_user_labels_healthcheck(hello: config.Config) -> None:
    runtime = stage(dockerfile.render(make(hello)), "runtime")
    assert "COPY --link --from=users" in runtime
    assert 'org.opencontainers.image.created="2024-01-02T03:04:05Z"' in runtime
    assert 'org.opencontainers.image.revision="0123abc"' in runtime
    assert 'org.opencontainers.image.base.digest="sha256:' + "a" * 64 + '"' in runtime
    assert "HEALTHCHECK" in runtime
    assert '"/opt/containerize/containerize_health.py", "8000", "/"]' in runtime


def test_no_syntax_line_and_base_pinned(hello: config.Config) -> None:
    text = dockerfile.render(make(hello))
    assert not any(line.startswith("# syntax=") for line in text.splitlines())
    assert f"ARG BASE_IMAGE={BASE}" in text


def test_empty_app_dependencies_skip_the_install(hello: config.Config) -> None:
    text = dockerfile.render(make(hello, base_is_empty=True))
    assert "install-base.json" not in text


def test_invocations_argv(hello: config.Config, tmp_path: Path) -> None:
    p = make(hello)
    invs = plan.invocations(
        p,
        context=tmp_path / "ctx",
        wheelhouse=tmp_path / "wh",
        tools=tmp_path / "tools",
        output="push",
        builder="arm-farm",
        build_cache=buildcache.CacheSettings(cache_from=("type=registry,ref=r/cache",)),
        platforms=[LINUX_AMD64, LINUX_ARM64],
    )
    assert [inv.target for inv in invs] == list(hello.servers)
    assert invs[0].target == "gunicorn"
    assert buildx.argv(invs[0]) == [
        "docker", "buildx", "--builder", "arm-farm", "build", "--progress", "auto",
        "--file", str(tmp_path / "ctx" / "Dockerfile"),
        "--target", "gunicorn",
        "--platform", "linux/amd64,linux/arm64",
        "--tag", "127.0.0.1:5000/containerize-examples/hello-wsgi:gunicorn",
        "--tag", "127.0.0.1:5000/containerize-examples/hello-wsgi:1.0.0-gunicorn",
        "--build-context", f"tools={tmp_path / 'tools'}",
        "--build-context", f"wheelhouse-linux-amd64={tmp_path / 'wh' / 'linux-amd64'}",
        "--build-context", f"wheelhouse-linux-arm64={tmp_path / 'wh' / 'linux-arm64'}",
        "--cache-from", "type=registry,ref=r/cache",
        "--provenance", "false",
        "--push",
        str(tmp_path / "ctx"),
    ]  # fmt: skip


def test_oci_output_with_rewritten_timestamps(tmp_path: Path) -> None:
    out = buildx.Output(kind="oci", dest=tmp_path / "img.tar", rewrite_timestamp=True)
    assert out.argv() == [
        "--output",
        f"type=oci,dest={tmp_path / 'img.tar'},rewrite-timestamp=true",
    ]


# Hostile values: each renders inertly (the same instructions, the value read back
# literally) or is refused with the setting it came from.


def instructions(text: str) -> list[str]:
    """The instruction keyword of every logical line (continuations and comments not)."""
    return [
        line.split(" ", 1)[0]
        for line in text.splitlines()
        if line and not line[0].isspace() and not line.startswith("#")
    ]


def assert_inert(text: str, normal: str) -> None:
    assert instructions(text) == instructions(normal)
    assert text.count("\nRUN ") == normal.count("\nRUN ")
    for line in text.splitlines():
        assert line == "" or line.startswith(("#", " ")) or line.split(" ", 1)[0].isupper()


def env_value(text: str, key: str) -> str:
    """The value of *key* in the runtime stage's ENV (the import checks repeat it)."""
    lines = [
        line for line in stage(text, "runtime").splitlines() if line.lstrip().startswith(f"{key}=")
    ]
    (line,) = lines
    word = line.strip().removeprefix(f"{key}=").removesuffix(" \\")
    (value,) = buildkit_words(word)
    return value


@pytest.mark.parametrize(
    "value",
    [
        "$HOME ${PATH} $(id) `id`",
        '" \\ RUN curl evil | sh',
        'x" \\',
        "--from=evil' ; id #",
    ],
)
def test_hostile_env_value_renders_inertly(hello: config.Config, value: str) -> None:
    normal = dockerfile.render(make(hello))
    text = dockerfile.render(make(replace(hello, env=(("GREETING", value),))))
    assert_inert(text, normal)
    assert env_value(text, "GREETING") == value


@pytest.mark.parametrize("value", ["ok\nRUN curl evil | sh", "a\rb", "a\u2028b", "nul\0"])
def test_line_breaks_in_env_values_are_refused(hello: config.Config, value: str) -> None:
    cfg = replace(hello, env=(("GREETING", value),))
    with pytest.raises(ConfigError, match=r"^tool\.containerize\.env\.GREETING: ") as info:
        dockerfile.render(make(cfg))
    assert info.value.hint


def test_env_names_that_would_need_quoting_are_refused(hello: config.Config) -> None:
    cfg = replace(hello, env=(("A=1 B", "x"),))
    with pytest.raises(ConfigError, match="cannot be an ENV or LABEL key"):
        dockerfile.render(make(cfg))


@pytest.mark.parametrize(
    ("base", "message"),
    [
        (BASE + "\nRUN curl evil | sh", "U\\+000A"),
        ("python:3.11 AS x", "U\\+0020"),
        ("python:3.11\nFROM evil", "U\\+000A"),
        ("python@sha256:nothex", "not a sha256 digest"),
        ("${EVIL}", "not a valid repository name"),
    ],
)
def test_hostile_base_image_is_refused(hello: config.Config, base: str, message: str) -> None:
    hostile = replace(make(hello), base_image=base)
    with pytest.raises(ConfigError, match=message) as info:
        dockerfile.render(hostile)
    assert info.value.message.startswith("tool.containerize.base-image")


def test_line_breaks_in_labels_are_refused(hello: config.Config) -> None:
    hostile = 'https://example.test/"\nRUN curl evil | sh'
    for cfg, origin in [
        (replace(hello, source=hostile), "tool.containerize.source"),
        (replace(hello, version=hostile), "the project version"),
    ]:
        with pytest.raises(ConfigError, match=f"the label org.opencontainers.image.* {origin}"):
            dockerfile.render(make(cfg))


def test_quotes_and_dollars_in_labels_render_inertly(hello: config.Config) -> None:
    normal = dockerfile.render(make(replace(hello, source="https://example.test/app")))
    source = 'https://example.test/"$(id)" \\'
    text = dockerfile.render(make(replace(hello, source=source)))
    assert_inert(text, normal)
    assert env_value(text, "org.opencontainers.image.source") == source
    assert 'org.opencontainers.image.source="https://example.test/\\"\\$(id)\\" \\\\"' in text


def healthcheck_argv(text: str) -> list[str]:
    (line,) = [line for line in text.splitlines() if line.startswith("    CMD [")]
    argv: list[str] = json.loads(line.removeprefix("    CMD "))
    return argv


@pytest.mark.parametrize(
    "path",
    [
        "/'+__import__('os').system('id')+'",
        "/', timeout=4); __import__('os').system('id'); ('",
        '/"); import os; os.system("id"); ("',
        "/\\'); import os #",
        "/health\nimport os",
        '/ünïcode?q=1&x="\'"',
    ],
)
def test_the_healthcheck_path_is_one_argument_of_the_health_script(
    hello: config.Config, path: str
) -> None:
    normal = dockerfile.render(make(hello))
    text = dockerfile.render(make(replace(hello, healthcheck_path=path)))
    assert_inert(text, normal)
    # No code is generated: the path reaches containerize_health.py as an argument.
    assert healthcheck_argv(text) == [
        "/opt/venv/bin/python",
        "/opt/containerize/containerize_health.py",
        "8000",
        path,
    ]


def test_hostile_server_stage_values(hello: config.Config) -> None:
    p = make(hello)
    normal = dockerfile.render(p)
    gunicorn = p.servers[0]
    # The command reaches the image only inside server.json, never the Dockerfile.
    command = (*gunicorn.command[:-1], 'hello:app"]\nRUN id #')
    text = dockerfile.render(
        replace(p, servers=(replace(gunicorn, command=command), *p.servers[1:]))
    )
    assert text == normal

    for bad, message in [
        (replace(gunicorn, stop_signal="SIGTERM\nRUN id"), "the gunicorn server: "),
        (replace(gunicorn, name="gunicorn AS x"), "cannot name a build stage"),
        (replace(gunicorn, runtime_packages=("-oAPT::Update=x",)), "not a Debian package"),
    ]:
        with pytest.raises(ConfigError, match=message):
            dockerfile.render(replace(p, servers=(bad,)))
    # The manifest is read from the wheelhouse folder when the layer folders are written.
    bad = replace(gunicorn, manifest="../../etc/x.json")
    with pytest.raises(ConfigError, match="not a file name in the wheelhouse"):
        layerfolders.write(replace(p, servers=(bad,)), [Path("/nonexistent/linux-amd64")])
    bad = replace(gunicorn, build_packages=("gcc; curl evil | sh",))
    with pytest.raises(ConfigError, match="not a Debian package"):
        compilefile.render_compile(replace(p, servers=(bad,)))


def test_python_path_cannot_become_a_run_flag(hello: config.Config) -> None:
    text = dockerfile.render(replace(make(hello), python="--mount=type=secret,id=x"))
    builder = stage(text, "builder")
    assert "RUN --network=none '--mount=type=secret,id=x' -m venv" in builder


@pytest.mark.parametrize(
    ("digest", "message"),
    [
        ('"sha256:nothex; rm -rf /"', r"holds the character ' ' \(U\+0020\)"),
        ('"sha256:nothex"', "is not a sha256 digest"),
        ('"sha256:' + "A" * 64 + '"', "64 lowercase hexadecimal digits"),
        ('"sha256:' + "a" * 64 + '\\nRUN id"', r"U\+000A"),
        ("5", "expected a digest string"),
    ],
)
def test_pinned_digests_are_checked_before_they_reach_the_dockerfile(
    tmp_path: Path, digest: str, message: str
) -> None:
    path = tmp_path / "containerize.lock"
    path.write_text(f'[base-images]\n"python:3.11" = {digest}\n')
    with pytest.raises(ConfigError, match=message) as info:
        pins.read(path)
    assert info.value.message.startswith(f'{path}: base-images."python:3.11": ')
    assert info.value.hint is not None
    assert "containerize pin --refresh" in info.value.hint


def test_a_bad_digest_is_never_written(tmp_path: Path) -> None:
    path = tmp_path / "containerize.lock"
    with pytest.raises(ConfigError, match="is not a sha256 digest"):
        pins.write(path, "python:3.11", "sha256:nothex")
    assert not path.exists()
    pins.write(path, "python:3.11", "sha256:" + "b" * 64)
    assert pins.read(path) == {"python:3.11": "sha256:" + "b" * 64}


def in_site(cfg: config.Config) -> config.Config:
    """*cfg* with its app in the project's site/ folder, collectstatic made there."""
    static = config.StaticFiles(
        url="/static/", dir="staticfiles", command=("python", "manage.py", "collectstatic")
    )
    return replace(cfg, app_directory=PurePosixPath("site"), static=static)


def test_an_app_directory_is_the_working_directory_and_import_root(
    hello: config.Config,
) -> None:
    cfg = replace(in_site(hello), servers=("gunicorn", "uwsgi", "mod_wsgi", "cheroot"))
    p = make(cfg)
    text = dockerfile.render(p)
    assert p.app_dir == "/app/site"
    assert "# The app folder (tool.containerize.app-directory) is /app/site: the\n" in text
    # collectstatic runs from the app folder, where its manage.py and its files are.
    made = stage(text, "app-gunicorn")
    assert "--mount=type=tmpfs,target=/app/site/staticfiles \\\n" in made
    assert "--then python manage.py collectstatic \\\n" in made
    assert " && cp -a /app/site/staticfiles /tmp/containerize/static/app/site/ \\\n" in made
    for server in cfg.servers:
        check = stage(text, f"app-{server}")
        assert "COPY app/ /app/site/\n" in check
        assert "WORKDIR /app/site\n" in check
        checked = f"COPY --link --chown=0:0 --from=app-{server} /tmp/containerize/files/ /"
        assert checked in stage(text, server)
        assert " && mkdir -p /tmp/containerize/files/app/site \\\n" in check
        assert " && cp -R /containerize-app/. /tmp/containerize/files/app/site/ \\\n" in check
        assert "/tmp/containerize/files/app/site /app/site \\\n" in check
    assert "WORKDIR /app/site\n" in stage(text, "runtime")
    assert "WORKDIR /app\n" not in text
    # Every server is run in the app folder, and the WSGI entry point imports from it.
    for built in p.servers:
        spec = json.loads(dict(built.files)["server.json"])
        assert spec["app_dir"] == "/app/site"
        assert spec["static"]["root"] == "/app/site/staticfiles"
    commands = {server.name: server.command for server in p.servers}
    assert commands["gunicorn"][commands["gunicorn"].index("--chdir") + 1] == "/app/site"
    assert commands["uwsgi"][commands["uwsgi"].index("--chdir") + 1] == "/app/site"
    mod_wsgi = commands["mod_wsgi"]
    assert mod_wsgi[mod_wsgi.index("--working-directory") + 1] == "/app/site"


def test_an_app_directory_without_the_import_check(hello: config.Config) -> None:
    text = dockerfile.render(make(replace(in_site(hello), import_check=False)))
    final = stage(text, "gunicorn")
    assert "COPY --link --from=app-files-gunicorn /files/ /\n" in final
    app = stage(text, "app-files-gunicorn")
    assert "    mkdir -p /files/app/site \\\n && cp -R /source-0/. /files/app/site/ \\\n" in app
    assert "COPY --link --from=static /static-layer/ /" in final
    assert "cp -a /app/site/staticfiles /static-layer/app/site/" in stage(text, "static")


def test_an_app_directory_that_no_dockerfile_word_can_hold(hello: config.Config) -> None:
    cfg = replace(hello, app_directory=PurePosixPath("site\u2028x"))
    with pytest.raises(ConfigError, match=r"tool\.containerize\.app-directory"):
        dockerfile.render(make(cfg))


def with_system_packages(cfg: config.Config, table: dict[str, Any]) -> config.Config:
    return replace(cfg, system_packages=syspackages.parse(table))


def test_well_known_build_packages_compile_an_sdist(hello: config.Config) -> None:
    needs: dict[str, Any] = {
        "base_has_sdists": True,
        "sdists": ("psycopg2",),
        "base_names": ("psycopg2",),
    }
    p = make(hello, **needs)
    assert [(b.name, b.packages, b.origin) for b in p.sdist_builds] == [
        ("psycopg2", ("libpq-dev",), "well-known")
    ]
    compiling = stage(compilefile.render_compile(p), "compile")
    assert "apache2-dev gcc libc6-dev libpq-dev python3-dev" in compiling
    assert "--system-package libpq-dev" in compiling
    # Nothing is known about run time before the compile: no apt in the runtime stage.
    assert "apt-get" not in stage(dockerfile.render(p), "runtime")


def test_declared_packages_replace_the_table_and_reach_the_runtime_stage(
    hello: config.Config,
) -> None:
    cfg = with_system_packages(
        hello,
        {
            "build": ["libfoo-dev"],
            "run": ["libfoo1"],
            "sdists": {"psycopg2": {"build": [], "run": ["libpq5"]}},
        },
    )
    needs: dict[str, Any] = {
        "base_has_sdists": True,
        "sdists": ("psycopg2",),
        "base_names": ("psycopg2",),
    }
    p = make(cfg, **needs)
    assert [(b.packages, b.origin) for b in p.sdist_builds] == [((), "declared")]
    compiling = stage(compilefile.render_compile(p), "compile")
    assert "libpq-dev" not in compiling
    assert "apache2-dev gcc libc6-dev libfoo-dev python3-dev" in compiling
    runtime = stage(dockerfile.render(p), "runtime")
    assert "    libfoo1 libpq5 \\" in runtime
    # Declared per package: only when the image holds that package.
    other = make(cfg, base_has_sdists=True, sdists=("psycopg2",), base_names=("flask",))
    assert other.runtime_packages == ("libfoo1",)


def test_derived_run_packages_go_where_their_wheel_is_installed(hello: config.Config) -> None:
    cfg = replace(hello, servers=("gunicorn", "mod_wsgi"))
    derived = plan.DerivedPackages(base=("libpq5",), servers=(("mod_wsgi", ("libxml2",)),))
    p = plan.make_plan(
        cfg,
        base=reference.parse(BASE, where="base image"),
        python="/usr/bin/python3",
        python_version=(3, 11),
        needs=Needs(base_has_sdists=True, server_has_sdists={}, base_is_empty=False),
        revision=None,
        created=CREATED,
        native_arch="amd64",
        derived=derived,
    )
    text = dockerfile.render(p)
    assert p.runtime_packages == ("libpq5",)
    assert "libpq5" in stage(text, "runtime")
    assert "libxml2" not in stage(text, "runtime")
    assert "apache2 libpython3.11 libxml2" in stage(text, "mod_wsgi")
    assert "apt-get" not in stage(text, "gunicorn")
    # The import check loads the libraries the image will have, on the check platform
    # (its apt caches named literally: the stage declares no TARGETARCH, so it runs once).
    assert stage(text, "app-gunicorn").startswith(
        "FROM check-runtime AS app-gunicorn\nCOPY --from=check-venv-gunicorn /opt/venv /opt/venv\n"
    )
    check_runtime = stage(text, "check-runtime")
    assert check_runtime.startswith("FROM --platform=linux/amd64 ${BASE_IMAGE} AS check-runtime")
    assert "libpq5" in check_runtime
    assert "libxml2" not in check_runtime
    assert "id=containerize-apt-cache-amd64," in check_runtime
    assert "TARGETARCH" not in check_runtime
    assert text.index(" AS check-runtime\n") < text.index(" AS app-gunicorn\n")


def test_server_json_says_how_each_server_preloads(hello: config.Config) -> None:
    """The setting and each server's two argument lists: the entrypoint picks one."""
    for built in make(replace(hello, preload="off")).servers:
        spec = json.loads(dict(built.files)["server.json"])
        preload = servers.get(built.name).preload
        assert spec["preload"] == "off"
        assert spec["preload_args"] == {
            "on": list(preload.on),
            "off": list(preload.off),
            "cannot": preload.cannot,
        }
