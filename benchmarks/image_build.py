"""Figures for the image pipeline on the hello-wsgi example, printed, never asserted.

* wheelhouse: cold (empty file cache) and warm, both platforms;
* a cold build (--no-cache) of every server for linux/amd64 and linux/arm64, pushed to
  the loopback registry, then the same for linux/amd64 alone, and their ratio (wheel
  installs and bytecode run natively for both platforms, so the ratio stays near 1;
  sdists are compiled before, once, and kept in the cache of compiled wheels);
* a code-only rebuild per server, both platforms;
* compressed image size per server and platform, from the registry.

Run with ``nox -s benchmark`` after ``nox -s engine``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from containerize import config
from containerize.commands.machine import machine
from containerize.host import baseimage
from containerize.image import pipeline as images
from containerize.resolve.cache import Cache
from containerize.resolve.wheelhouse import build as build_wheelhouse
from containerize.resolve.wheelhouse import index_settings

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    baseimage.ensure()
    with tempfile.TemporaryDirectory(prefix="containerize-bench-") as tmp:
        project = Path(tmp) / "hello-wsgi"
        shutil.copytree(
            REPO / "fixtures" / "hello-wsgi",
            project,
            ignore=shutil.ignore_patterns(".containerize", "containerize.lock"),
        )
        image = f"127.0.0.1:5000/containerize-bench/hello-{uuid.uuid4().hex[:6]}"
        cfg = config.load(project, overrides={"image": image})
        here = machine(engine=True)
        prepared = images.prepare(cfg, here, output="push")

        settings = index_settings(cfg.project)
        cold_cache = Cache(root=Path(tmp) / "cold-cache")
        began = time.monotonic()
        house = build_wheelhouse(
            prepared.selections,
            dest=prepared.folder.wheelhouse,
            project_dir=cfg.project_dir,
            settings=settings,
            cache=cold_cache,
        )
        cold = time.monotonic() - began
        began = time.monotonic()
        build_wheelhouse(
            prepared.selections,
            dest=prepared.folder.wheelhouse,
            project_dir=cfg.project_dir,
            settings=settings,
            cache=cold_cache,
        )
        warm = time.monotonic() - began
        total = sum(f.bytes_downloaded for p in house.platforms for f in p.report.files)
        print(f"wheelhouse cold: {cold:.2f}s ({total / 2**20:.1f} MiB downloaded)")
        print(f"wheelhouse warm: {warm:.2f}s (no network)")

        # Cold: every step again (the base image and apt's package cache stay).
        prepared = images.prepare(cfg, here, output="push", no_cache=True)
        both = 0.0
        for summary in images.build(prepared.invocations):
            sizes = ", ".join(
                f"{name} {size / 2**20:.1f} MiB" for name, size in summary.sizes if size
            )
            both += summary.seconds
            print(f"cold build {summary.server}: {summary.seconds:.1f}s, compressed {sizes}")
        alone = config.load(project, overrides={"image": image, "platforms": ["linux/amd64"]})
        prepared = images.prepare(alone, here, output="push", no_cache=True)
        amd64 = sum(summary.seconds for summary in images.build(prepared.invocations))
        print(
            f"cold build, every server: {both:.1f}s for both platforms, {amd64:.1f}s for "
            f"linux/amd64 alone ({both / amd64:.2f}x)"
        )

        (project / "hello.py").write_text(
            (project / "hello.py").read_text() + f"\n# {uuid.uuid4()}\n"
        )
        here = machine(engine=True)
        prepared = images.prepare(cfg, here, output="push")
        for summary in images.build(prepared.invocations):
            print(
                f"code-only rebuild {summary.server}: {summary.seconds:.1f}s "
                "(both platforms, pushed)"
            )
    print(f"machine: {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
