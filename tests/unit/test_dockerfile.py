"""The plan and its rendering, without an engine."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import replace
from pathlib import Path

import pytest

from containerize import config
from containerize.engine import buildx
from containerize.image import dockerfile, plan
from containerize.platforms import LINUX_AMD64, LINUX_ARM64, Platform

CREATED = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
BASE = "127.0.0.1:5000/containerize/python:3.11-bookworm@sha256:" + "a" * 64


@pytest.fixture
def hello(fixtures_dir: Path) -> config.Config:
    return config.load(fixtures_dir / "hello-wsgi", environ={})


def make(cfg: config.Config, **needs: object) -> plan.BuildPlan:
    defaults: dict[str, object] = {
        "base_has_sdists": False,
        "server_has_sdists": {"mod_wsgi": True},
        "base_is_empty": False,
    }
    defaults.update(needs)
    return plan.make_plan(
        cfg,
        base_image=BASE,
        python="/usr/bin/python3",
        python_version=(3, 11),
        needs=plan.Needs(**defaults),  # type: ignore[arg-type]
        revision="0123abc",
        created=CREATED,
    )


def stage(text: str, name: str) -> str:
    """The lines of one stage, from its FROM to the next blank line."""
    start = text.index(f" AS {name}\n")
    start = text.rindex("\n", 0, start) + 1
    end = text.find("\n\n", start)
    return text[start:end]


GOLDEN = Path(__file__).resolve().parents[1] / "data" / "hello-wsgi.Dockerfile"


def test_render_matches_the_reviewed_dockerfile(hello: config.Config) -> None:
    """The whole Dockerfile, as reviewed; regenerate with CONTAINERIZE_REGEN=1 and read the diff."""
    text = dockerfile.render(make(hello))
    if os.environ.get("CONTAINERIZE_REGEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


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
    assert '"--die-on-term"' in stage(text, "uwsgi")


def test_installs_are_offline_hash_checked_and_bind_mounted(hello: config.Config) -> None:
    text = dockerfile.render(make(hello))
    deps = stage(text, "deps")
    assert "RUN --network=none --mount=type=bind,from=wheelhouse," in deps
    assert "source=${TARGETOS}-${TARGETARCH}${TARGETVARIANT},target=/wheelhouse" in deps
    assert "--no-index" in deps
    assert "--require-hashes" in deps
    assert "requirements-base.txt" in deps
    assert "COPY --from=wheelhouse" not in text
    assert "--invalidation-mode unchecked-hash" in stage(text, "venv-gunicorn")


def test_build_tools_only_where_an_sdist_needs_them(hello: config.Config) -> None:
    text = dockerfile.render(make(hello))
    assert "apt-get" not in stage(text, "venv-gunicorn")
    assert "apache2-dev gcc libc6-dev python3-dev" in stage(text, "venv-mod_wsgi")
    final = stage(text, "mod_wsgi")
    assert "apache2 libpython3.11" in final
    assert "gcc" not in final
    assert "apt-get" not in stage(text, "gunicorn")


def test_dependency_layers_come_before_the_application(hello: config.Config) -> None:
    final = stage(dockerfile.render(make(hello)), "gunicorn").splitlines()
    copies = [i for i, line in enumerate(final) if line.startswith("COPY")]
    assert final[copies[0]].startswith("COPY --link --from=venv-gunicorn /opt/venv")
    assert final[copies[1]] == "COPY --link app/ /app/"
    # Nothing runs after the application is copied: a code change runs no step.
    assert not any(line.startswith("RUN") for line in final[copies[1] :])
    assert "USER 10001:10001" in final


def test_runtime_stage_user_labels_healthcheck(hello: config.Config) -> None:
    runtime = stage(dockerfile.render(make(hello)), "runtime")
    assert "app:x:10001:10001:" in runtime
    assert "useradd" not in runtime
    assert 'org.opencontainers.image.created="2024-01-02T03:04:05Z"' in runtime
    assert 'org.opencontainers.image.revision="0123abc"' in runtime
    assert 'org.opencontainers.image.base.digest="sha256:' + "a" * 64 + '"' in runtime
    assert "HEALTHCHECK" in runtime
    assert "http://127.0.0.1:8000/" in runtime


def test_no_syntax_line_and_base_pinned(hello: config.Config) -> None:
    text = dockerfile.render(make(hello))
    assert not any(line.startswith("# syntax=") for line in text.splitlines())
    assert f"ARG BASE_IMAGE={BASE}" in text


def test_empty_app_dependencies_skip_the_install(hello: config.Config) -> None:
    text = dockerfile.render(make(hello, base_is_empty=True))
    assert "requirements-base.txt" not in text


def test_invocations_argv(hello: config.Config, tmp_path: Path) -> None:
    p = make(hello)
    invs = plan.invocations(
        p,
        context=tmp_path / "ctx",
        wheelhouse=tmp_path / "wh",
        output="push",
        builder="arm-farm",
        cache_from=["type=registry,ref=r/cache"],
        platforms=[LINUX_AMD64, LINUX_ARM64],
    )
    assert [inv.target for inv in invs] == ["gunicorn", "uwsgi", "mod_wsgi"]
    assert buildx.argv(invs[0]) == [
        "docker", "buildx", "--builder", "arm-farm", "build", "--progress", "auto",
        "--file", str(tmp_path / "ctx" / "Dockerfile"),
        "--target", "gunicorn",
        "--platform", "linux/amd64,linux/arm64",
        "--tag", "127.0.0.1:5000/containerize-examples/hello-wsgi:gunicorn",
        "--tag", "127.0.0.1:5000/containerize-examples/hello-wsgi:1.0.0-gunicorn",
        "--build-context", f"wheelhouse={tmp_path / 'wh'}",
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
