"""The dependency layer planner (stable groups, the budget, one bump changing one group)
and the folders each layer's install step reads."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from containerize import config, reference
from containerize.image import layerfolders, layers
from containerize.image import plan as plan_mod
from containerize.image.layers import LARGE, LayerPackage
from containerize.resolve.wheelhouse import Needs

MiB = 1024 * 1024


def package(name: str, size: int = 50_000, *, pure: bool = True) -> LayerPackage:
    return LayerPackage(name=canonicalize_name(name), size=size, pure=pure)


#: A lock like a Django project's: three large packages and forty small ones.
LOCK = (
    package("django", 8 * MiB),
    package("pillow", 4 * MiB, pure=False),
    package("psycopg-binary", 3 * MiB, pure=False),
    *(package(f"small-{i}", 10_000 + i) for i in range(30)),
    *(package(f"native-{i}", 200_000, pure=False) for i in range(10)),
)


def by_package(plan: layers.LayerPlan) -> dict[str, str]:
    return {name: layer.name for layer in plan.layers for name in layer.packages}


def test_large_packages_get_layers_of_their_own_and_every_package_one_layer() -> None:
    plan = layers.plan(LOCK)
    own = {layer.packages[0] for layer in plan.layers if layer.own}
    assert own == {"django", "pillow", "psycopg-binary"}
    assert all(len(layer.packages) == 1 for layer in plan.layers if layer.own)
    placed = [name for layer in plan.layers for name in layer.packages]
    assert sorted(placed) == sorted(p.name for p in LOCK)  # each exactly once
    assert len(plan.layers) <= plan.budget == layers.DEFAULT_BUDGET


def test_pure_and_platform_specific_packages_never_share_a_layer() -> None:
    plan = layers.plan(LOCK)
    pure = {p.name for p in LOCK if p.pure}
    for layer in plan.layers:
        kinds = {name in pure for name in layer.packages}
        assert len(kinds) == 1, layer
        assert layer.pure == (layer.packages[0] in pure)
    assert {layer.kind for layer in plan.layers} == {"own", "pure", "native"}


def test_the_plan_does_not_depend_on_the_order_of_the_lock() -> None:
    assert layers.plan(LOCK) == layers.plan(tuple(reversed(LOCK)))


def test_bumping_one_package_changes_one_layer() -> None:
    """A new version (a new size, the same name) of a small or a large package: every
    other layer keeps exactly its packages."""
    before = layers.plan(LOCK)
    for name, size in (("small-7", 12_345), ("native-3", 250_000), ("django", 9 * MiB)):
        bumped = tuple(replace(p, size=size) if p.name == name else p for p in LOCK)
        after = layers.plan(bumped)
        assert by_package(after) == by_package(before)
        changed = [
            a.name for a, b in zip(after.layers, before.layers, strict=True) if a != b
        ]  # only the size of the bumped package's layer moved
        assert changed in ([], [by_package(before)[name]])


def test_adding_or_removing_a_small_package_changes_only_its_bucket() -> None:
    before = by_package(layers.plan(LOCK))
    after = by_package(layers.plan((*LOCK, package("newcomer", 3_000))))
    assert {n: after[n] for n in before} == before
    removed = by_package(layers.plan(tuple(p for p in LOCK if p.name != "small-3")))
    assert removed == {n: layer for n, layer in before.items() if n != "small-3"}


@pytest.mark.parametrize("budget", [1, 2, 3, 5, 8, 20, 100])
def test_the_budget_caps_the_number_of_layers(budget: int) -> None:
    many = (*LOCK, *(package(f"big-{i}", LARGE + i) for i in range(40)))
    plan = layers.plan(many, budget=budget)
    assert 1 <= len(plan.layers) <= budget
    assert sorted(n for layer in plan.layers for n in layer.packages) == sorted(
        p.name for p in many
    )


def test_with_too_many_large_packages_the_largest_get_their_own_layers() -> None:
    many = tuple(package(f"big-{i:02}", LARGE + i * 1000) for i in range(30))
    plan = layers.plan(many, budget=20)
    own = sorted(layer.packages[0] for layer in plan.layers if layer.own)
    slots = layers.own_slots(20)
    assert own == sorted(f"big-{i:02}" for i in range(30 - slots, 30))


def test_a_budget_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        layers.plan(LOCK, budget=0)


def test_no_packages_no_layers_and_the_dry_run_says_so() -> None:
    plan = layers.plan(())
    assert plan.layers == ()
    assert "none" in plan.lines()[0]


def test_the_dry_run_lists_each_layer_and_unknown_sizes() -> None:
    plan = layers.plan((*LOCK[:3], package("unsized", 0)))
    text = "\n".join(plan.lines())
    assert "layer-django (own, 8.0 MiB): django" in text
    assert "unsized" in text.splitlines()[-2]
    assert "sizes not in the lock for 1 package(s)" in text


@pytest.mark.parametrize(
    ("filename", "pure"),
    [
        ("django-5.1-py3-none-any.whl", True),
        ("six-1.16.0-py2.py3-none-any.whl", True),
        ("pillow-11.0.0-cp311-cp311-manylinux_2_28_x86_64.whl", False),
        ("cffi-1.17-cp311-abi3-manylinux_2_17_aarch64.whl", False),
        ("mod_wsgi-5.0.tar.gz", False),
    ],
)
def test_pure_wheels_are_none_any(filename: str, pure: bool) -> None:
    assert layers.is_pure_wheel(filename) is pure


def test_each_layer_gets_a_folder_of_its_own_wheels(tmp_path: Path, fixtures_dir: Path) -> None:
    """The folders a layer's install step mounts: hard links to its own wheels and a
    manifest cut down to them, pending sdists included; the servers' likewise."""
    cfg = config.load(fixtures_dir / "hello-wsgi", environ={})
    made = plan_mod.make_plan(
        replace(cfg, servers=("gunicorn",)),
        base=reference.parse("127.0.0.1:5000/python:3.11@sha256:" + "a" * 64, where="base image"),
        python="/usr/bin/python3",
        python_version=(3, 11),
        needs=Needs(base_has_sdists=False, server_has_sdists={}, base_is_empty=False),
        revision=None,
        created=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        native_arch="amd64",
    )
    made = replace(made, layers=layers.plan((*LOCK[:3], package("sqlparse"))))
    folder = tmp_path / "linux-amd64"
    folder.mkdir()
    wheels = {name: folder / f"{name}-1.0-py3-none-any.whl" for name in ("django", "sqlparse")}
    for path in wheels.values():
        path.write_bytes(b"a wheel")

    def listed(name: str) -> dict[str, str]:
        return {"name": name, "version": "1.0", "file": wheels[name].name, "sha256": "x"}

    pending = {"name": "psycopg-binary", "version": "1", "file": "p.tar.gz", "sha256": "y"}
    base = {"wheels": [listed("django"), listed("sqlparse")], "pending": [pending]}
    (folder / "install-base.json").write_text(json.dumps(base))
    gunicorn = {"wheels": [listed("sqlparse")], "pending": []}
    (folder / "install-gunicorn.json").write_text(json.dumps(gunicorn))

    layerfolders.write(made, [folder])
    django = folder / layerfolders.folder_of("layer-django")
    assert sorted(p.name for p in django.iterdir()) == [wheels["django"].name, "install.json"]
    assert (django / wheels["django"].name).stat().st_ino == wheels["django"].stat().st_ino
    assert json.loads((django / "install.json").read_text()) == {
        "wheels": [listed("django")],
        "pending": [],
    }
    psycopg = json.loads((folder / "layers/layer-psycopg-binary/install.json").read_text())
    assert psycopg == {"wheels": [], "pending": [pending]}  # still refused until compiled
    server = json.loads((folder / "layers/server-gunicorn/install.json").read_text())
    assert server == gunicorn
    # Written again from scratch: a layer gone from the plan leaves no folder behind.
    layerfolders.write(replace(made, layers=layers.plan(LOCK[:1])), [folder])
    assert sorted(p.name for p in (folder / "layers").iterdir()) == [
        "layer-django",
        "server-gunicorn",
    ]
