"""Python base images made from Debian packages, for machines that cannot pull one.

``mmdebstrap`` builds a minimal Debian root file system per architecture from the
host's own apt mirror; a ``FROM scratch`` build turns the tarballs into one multi-arch
image pushed to a registry. Both steps are cached by a key over the recipe: the root
file systems under the cache directory, the image by a tag that carries the key, so a
second run only asks the registry whether that tag exists.

Each Debian suite of :data:`containerize.bases.SUITES` makes one image, tagged with its
Python and its name (``3.11-bookworm``, ``3.13-trixie``). Any suite comes from the same
mirror, the host's: a bookworm host's keyring already holds trixie's keys.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from containerize import bases, process
from containerize.engine import buildx, docker
from containerize.errors import ProvisionError
from containerize.fsutil import cache_home, link_or_copy
from containerize.host.provision import debian_mirror
from containerize.platforms import LINUX_AMD64, LINUX_ARM64, Platform

logger = logging.getLogger("containerize")

# Bumped when the way the image is made changes, so old caches are not trusted.
_RECIPE_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class Recipe:
    """What goes into a base image."""

    repository: str = bases.LOCAL_REPOSITORY
    tag: str = bases.DEFAULT_SUITE.tag
    suite: str = bases.DEFAULT_SUITE.name
    packages: tuple[str, ...] = ("python3", "python3-venv")
    platforms: tuple[Platform, ...] = (LINUX_AMD64, LINUX_ARM64)
    # Fixed so the root file systems do not change with the day they are made.
    source_date_epoch: int = 1_700_000_000
    # mmdebstrap --customize-hook commands run after the packages are in ($1 is the root).
    customize: tuple[str, ...] = ()
    # The Dockerfile's lines after the root file system is added, and the files
    # (name, text) beside it that they COPY.
    dockerfile_tail: str = 'CMD ["python3"]\n'
    files: tuple[tuple[str, str], ...] = ()
    description: str | None = None  # the image's description label (default: its packages)

    @classmethod
    def for_suite(cls, suite: bases.Suite) -> Recipe:
        """The recipe of *suite*'s image, ``<repository>:<python>-<suite>``."""
        return cls(tag=suite.tag, suite=suite.name)

    @property
    def key(self) -> str:
        data = asdict(self)
        data["platforms"] = [str(p) for p in self.platforms]
        data["recipe_version"] = _RECIPE_VERSION
        # Where the image goes is left out: the rest makes it.
        del data["repository"], data["tag"]
        # The Python images' recipe as it was before these fields: their key stays.
        for name in ("customize", "dockerfile_tail", "files", "description"):
            if getattr(self, name) == _DEFAULTS[name]:
                del data[name]
        blob = json.dumps(data, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}"

    @property
    def keyed_ref(self) -> str:
        return f"{self.repository}:{self.tag}-{self.key}"


_DEFAULTS = {
    "customize": (),
    "dockerfile_tail": Recipe.dockerfile_tail,
    "files": (),
    "description": None,
}


def cache_dir() -> Path:
    return cache_home() / "rootfs"


def ensure(recipe: Recipe | None = None) -> str:
    """Make sure the base image of *recipe* is in its registry; return its reference.

    Returns at once when the keyed tag exists. Otherwise builds what is missing.
    """
    recipe = recipe or Recipe()
    with _one_run(recipe):
        return _ensure(recipe)


@contextmanager
def _one_run(recipe: Recipe) -> Iterator[None]:
    """Two runs for one recipe do not write the same root file system: the second
    waits, then finds what the first made."""
    cache_dir().mkdir(parents=True, exist_ok=True)
    with (cache_dir() / f"{recipe.key}.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.info("waiting for another run that builds %s", recipe.ref)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _ensure(recipe: Recipe) -> str:
    if buildx.imagetools_inspect(recipe.keyed_ref) is not None:
        logger.info("base image %s is up to date (%s)", recipe.ref, recipe.keyed_ref)
        if buildx.imagetools_inspect(recipe.ref) is None:
            _retag(recipe)
        return recipe.ref
    tarballs = {p: _rootfs(recipe, p) for p in recipe.platforms}
    # Beside the cached root file systems, so they are hard-linked, not copied.
    with tempfile.TemporaryDirectory(prefix="context-", dir=cache_dir()) as tmp:
        context = Path(tmp)
        for platform, tarball in tarballs.items():
            link_or_copy(tarball, context / f"rootfs-{platform.arch}.tar")
        for name, text in recipe.files:
            (context / name).write_text(text)
        (context / "Dockerfile").write_text(
            f"# {_describe(recipe)}, made by mmdebstrap from Debian packages.\n"
            "FROM scratch\n"
            "ARG TARGETARCH\n"
            "ADD rootfs-${TARGETARCH}.tar /\n" + recipe.dockerfile_tail
        )
        buildx.build(
            buildx.BuildInvocation(
                context=context,
                platforms=recipe.platforms,
                tags=(recipe.ref, recipe.keyed_ref),
                labels=(("org.opencontainers.image.description", _describe(recipe)),),
                output=buildx.Output(kind="push"),
                progress="plain",
            ),
            stream=False,
        )
    return recipe.ref


def _retag(recipe: Recipe) -> None:
    docker.buildx("imagetools", "create", "--tag", recipe.ref, recipe.keyed_ref)


def _describe(recipe: Recipe) -> str:
    return recipe.description or f"Debian {recipe.suite} minbase with {', '.join(recipe.packages)}"


def _rootfs(recipe: Recipe, platform: Platform) -> Path:
    out = cache_dir() / recipe.key / f"rootfs-{platform.arch}.tar"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial.tar")
    partial.unlink(missing_ok=True)
    try:
        process.run(
            [
                "mmdebstrap",
                "--variant=minbase",
                f"--arch={platform.arch}",
                f"--include={','.join(recipe.packages)}",
                # No documentation or apt lists in an image nobody logs in to.
                "--dpkgopt=path-exclude=/usr/share/doc/*",
                "--dpkgopt=path-exclude=/usr/share/man/*",
                "--dpkgopt=path-exclude=/usr/share/locale/*",
                "--dpkgopt=path-include=/usr/share/doc/*/copyright",
                *(f"--customize-hook={hook}" for hook in recipe.customize),
                "--customize-hook=rm -rf $1/var/lib/apt/lists/* $1/var/cache/apt/*",
                recipe.suite,
                str(partial),
                debian_mirror(),
            ],
            env={"SOURCE_DATE_EPOCH": str(recipe.source_date_epoch)},
            timeout=1800,
            hint="mmdebstrap needs root (or unshare), and qemu emulation for foreign arches",
        )
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if not partial.exists():
        raise ProvisionError(f"mmdebstrap produced no root file system at {partial}")
    partial.replace(out)
    return out
