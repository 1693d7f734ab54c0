"""BuildKit's cache kept in a registry: the ``cache`` key, the specs each build gets,
and the preflight that refuses an export the engine cannot do."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_dockerfile import make

from containerize import config
from containerize.engine import buildx, preflight, probes
from containerize.errors import ConfigError, EngineError
from containerize.image import buildcache, plan
from containerize.platforms import LINUX_AMD64

DATA = Path(__file__).parent / "data" / "buildx"
REGISTRY_IMAGE = 'image = "127.0.0.1:5000/team/demo"\n'


def load(tmp_path: Path, table: str, environ: dict[str, str] | None = None) -> config.Config:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "2.0"\n\n[tool.containerize]\n'
        'app = "demo:app"\nservers = ["gunicorn", "uwsgi"]\n' + table
    )
    return config.load(tmp_path, environ=environ or {})


def test_registry_cache_tags_one_per_server_and_one_for_the_compile_build(
    tmp_path: Path,
) -> None:
    cfg = load(tmp_path, REGISTRY_IMAGE + 'cache = "registry"\n')
    settings = buildcache.settings(cfg)
    assert settings.specs("gunicorn") == buildcache.CacheSpecs(
        cache_from=("type=registry,ref=127.0.0.1:5000/team/demo:buildcache-gunicorn",),
        cache_to=("type=registry,ref=127.0.0.1:5000/team/demo:buildcache-gunicorn,mode=max",),
    )
    assert settings.exports(("gunicorn", "uwsgi", buildcache.COMPILE)) == (
        "type=registry,ref=127.0.0.1:5000/team/demo:buildcache-gunicorn,mode=max",
        "type=registry,ref=127.0.0.1:5000/team/demo:buildcache-uwsgi,mode=max",
        "type=registry,ref=127.0.0.1:5000/team/demo:buildcache-compile,mode=max",
    )


def test_the_variable_sets_it_and_the_flags_win_each_direction_on_their_own(
    tmp_path: Path,
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "2.0"\n\n[tool.containerize]\n'
        'app = "demo:app"\n' + REGISTRY_IMAGE
    )
    cfg = config.load(
        tmp_path,
        environ={"CONTAINERIZE_CACHE": "registry"},
        overrides={"cache-to": ["type=local,dest=/tmp/c"]},
    )
    specs = buildcache.settings(cfg).specs("gunicorn")
    assert specs.cache_to == ("type=local,dest=/tmp/c",)
    assert specs.cache_from == ("type=registry,ref=127.0.0.1:5000/team/demo:buildcache-gunicorn",)


def test_no_cache_setting_adds_no_spec(tmp_path: Path) -> None:
    cfg = load(tmp_path, REGISTRY_IMAGE)
    assert cfg.cache == "none"
    assert buildcache.settings(cfg).specs("gunicorn") == buildcache.CacheSpecs()


def test_an_unknown_mode_is_refused(tmp_path: Path) -> None:
    refused = r"tool.containerize.cache: 'gha' is not one of 'none', 'registry'"
    with pytest.raises(ConfigError, match=refused):
        load(tmp_path, REGISTRY_IMAGE + 'cache = "gha"\n')


def test_registry_cache_needs_an_image_in_a_registry(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="image 'demo' names no registry") as info:
        load(tmp_path, 'cache = "registry"\n')
    assert "buildcache-<server>" in (info.value.hint or "")


def test_invocations_carry_each_servers_own_cache(tmp_path: Path, fixtures_dir: Path) -> None:
    cfg = config.load(fixtures_dir / "hello-wsgi", environ={"CONTAINERIZE_CACHE": "registry"})
    build_plan = make(cfg)
    invs = plan.invocations(
        build_plan,
        context=tmp_path / "ctx",
        wheelhouse=tmp_path / "wh",
        tools=tmp_path / "tools",
        output="push",
        builder=None,
        build_cache=buildcache.settings(cfg),
    )
    for inv in invs:
        ref = f"{cfg.image}:buildcache-{inv.target}"
        argv = buildx.argv(inv)
        assert argv[argv.index("--cache-from") + 1] == f"type=registry,ref={ref}"
        assert argv[argv.index("--cache-to") + 1] == f"type=registry,ref={ref},mode=max"
    compile_inv = plan.compile_invocation(
        build_plan,
        context=tmp_path / "c",
        wheelhouse=tmp_path / "wh",
        tools=tmp_path / "tools",
        platforms=[LINUX_AMD64],
        dest=tmp_path / "out",
        builder=None,
        build_cache=buildcache.settings(cfg),
    )
    assert compile_inv.cache_to == (f"type=registry,ref={cfg.image}:buildcache-compile,mode=max",)


@pytest.fixture
def docker_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default builder as `docker buildx inspect` printed it on this engine."""
    text = (DATA / "docker-driver.txt").read_text()
    monkeypatch.setattr(buildx, "inspect_builder", lambda builder=None: text)


EXPORT = ("type=registry,ref=127.0.0.1:5000/team/demo:buildcache-gunicorn,mode=max",)


@pytest.mark.usefixtures("docker_driver")
def test_the_docker_driver_without_the_containerd_store_cannot_export(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(probes, "containerd_image_store", lambda: False)
    with pytest.raises(EngineError, match="without the containerd image store") as info:
        preflight.preflight([LINUX_AMD64], builder=None, cache_to=EXPORT)
    assert "containerd-snapshotter" in (info.value.hint or "")
    assert "docker-container" in (info.value.hint or "")
    # An inline cache goes with the image: no export to refuse.
    preflight.preflight([LINUX_AMD64], builder=None, cache_to=("type=inline",))


@pytest.mark.usefixtures("docker_driver")
def test_the_docker_driver_with_the_containerd_store_exports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(probes, "containerd_image_store", lambda: True)
    preflight.preflight([LINUX_AMD64], builder=None, cache_to=EXPORT)
