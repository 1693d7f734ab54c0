"""Two clean builds of the same inputs: do they give the same image index digest?

Each server target of hello-wsgi (all four unless named on the command line) is
built twice with ``--no-cache`` for linux/amd64 and linux/arm64 into an OCI layout
with ``rewrite-timestamp=true`` and the same SOURCE_DATE_EPOCH. Each of the two
builds starts from an empty download cache of its own, so sdists (mod_wsgi) are
compiled afresh both times rather than taken from the cache of compiled wheels: the
compiled wheels' sha256 are compared too. The script prints both index digests and,
when they differ, which layers differ and which files in them, so the remaining
sources of non-determinism are named exactly. Run with ``nox -s reproducibility``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile
from dataclasses import replace
from pathlib import Path

from containerize import config
from containerize.commands.machine import machine
from containerize.engine import buildx
from containerize.host import baseimage
from containerize.image import pipeline as images

REPO = Path(__file__).resolve().parent.parent
EPOCH = "1700000000"


def _blob(layout: tarfile.TarFile, digest: str) -> bytes:
    member = layout.extractfile("blobs/sha256/" + digest.split(":", 1)[1])
    assert member is not None
    return member.read()


def _manifests(path: Path) -> dict[str, list[str]]:
    """platform -> layer digests, from an OCI layout tarball."""
    with tarfile.open(path) as layout:
        index = json.loads(layout.extractfile("index.json").read())  # type: ignore[union-attr]
        top = json.loads(_blob(layout, index["manifests"][0]["digest"]))
        result = {}
        for entry in top.get("manifests", []):
            platform = entry.get("platform", {})
            manifest = json.loads(_blob(layout, entry["digest"]))
            name = f"{platform.get('os')}/{platform.get('architecture')}"
            result[name] = [layer["digest"] for layer in manifest["layers"]]
        return result


def _layer_files(path: Path, digest: str) -> dict[str, str]:
    with tarfile.open(path) as layout:
        data = _blob(layout, digest)
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    files = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as layer:
        for member in layer.getmembers():
            content = layer.extractfile(member).read() if member.isfile() else b""  # type: ignore[union-attr]
            files[member.name] = hashlib.sha256(content).hexdigest()[:12] + f" {member.mode:o}"
    return files


def _build_twice(project: Path, servers: list[str], tmp: Path) -> list[dict[str, str]]:
    """Two clean builds, each with its own empty cache: per run, what -> digest."""
    runs = []
    for run in (1, 2):
        os.environ["CONTAINERIZE_CACHE_DIR"] = str(tmp / f"cache-{run}")
        cfg = config.load(project, overrides={"servers": servers})
        # Asked after the cache folder is set: each run gets its own, empty.
        here = machine(engine=True)
        prepared = images.prepare(cfg, here, output="none", no_cache=True)
        found: dict[str, str] = {}
        assert prepared.wheelhouse is not None
        for item in prepared.wheelhouse.platforms:
            for wheel in item.compiled:
                found[f"compiled {wheel.filename}"] = f"sha256:{wheel.sha256}"
        for inv in prepared.invocations:
            dest = tmp / f"{inv.target}-{run}.tar"
            out = buildx.Output(kind="oci", dest=dest, rewrite_timestamp=True)
            result = buildx.build(replace(inv, output=out, tags=(), progress="plain"), stream=False)
            found[str(inv.target)] = result.digest or "?"
        runs.append(found)
    return runs


def main() -> int:
    baseimage.ensure()
    os.environ["SOURCE_DATE_EPOCH"] = EPOCH
    same = True
    with tempfile.TemporaryDirectory(prefix="containerize-repro-") as tmp:
        project = Path(tmp) / "hello-wsgi"
        shutil.copytree(
            REPO / "fixtures" / "hello-wsgi",
            project,
            ignore=shutil.ignore_patterns(".containerize", "containerize.lock"),
        )
        servers = sys.argv[1:] or ["gunicorn", "uwsgi", "mod_wsgi", "cheroot"]
        first, second = _build_twice(project, servers, Path(tmp))
        for what in sorted(first):
            d1, d2 = first[what], second.get(what, "?")
            print(f"{what}: {d1} / {d2}: {'same' if d1 == d2 else 'DIFFERENT'}")
            if d1 == d2 or what.startswith("compiled "):
                same = same and d1 == d2
                continue
            same = False
            one, two = Path(tmp) / f"{what}-1.tar", Path(tmp) / f"{what}-2.tar"
            m1, m2 = _manifests(one), _manifests(two)
            for platform in sorted(m1):
                for index, (l1, l2) in enumerate(zip(m1[platform], m2[platform], strict=False)):
                    if l1 == l2:
                        continue
                    f1, f2 = _layer_files(one, l1), _layer_files(two, l2)
                    changed = sorted(n for n in set(f1) | set(f2) if f1.get(n) != f2.get(n))
                    print(f"  {platform} layer {index}: {len(changed)} files differ")
                    for name in changed[:15]:
                        print(f"    {name}: {f1.get(name)} vs {f2.get(name)}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
