"""Where each build keeps BuildKit's cache between machines: the buildx cache specs.

With ``cache = "registry"``, each build target exports its cache to a tag of its own
beside the image (``<image>:buildcache-<server>``, and ``<image>:buildcache-compile``
for the build that compiles sdists) with ``mode=max``, so every stage's layers are kept
and not just the final image's, and imports it on the next build, on any machine that
can reach the registry. Specs given with ``--cache-to``/``--cache-from`` (or the
``cache-to``/``cache-from`` keys) win over the derived ones, each direction on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from containerize import reference
from containerize.config import Config
from containerize.valuechecks import CacheMode

#: The tag prefix of the cache kept beside the image; the target's name follows.
TAG_PREFIX = "buildcache-"
#: The cache name of the build that compiles sdists (servers go by their own name).
COMPILE = "compile"


@dataclass(frozen=True, kw_only=True)
class CacheSpecs:
    """The ``--cache-from`` and ``--cache-to`` values of one build."""

    cache_from: tuple[str, ...] = ()
    cache_to: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class CacheSettings:
    """What the configuration says about caches, for every build of one run."""

    mode: CacheMode = "none"
    image: str = ""  # the image repository, where the registry cache lives beside
    cache_from: tuple[str, ...] = ()  # given explicitly: they win
    cache_to: tuple[str, ...] = ()

    def ref(self, target: str) -> str:
        """The registry cache reference of *target* (a server's name, or ``compile``)."""
        repo = reference.parse_repository(self.image, where="image")
        return str(repo.with_tag(f"{TAG_PREFIX}{target}", where=f"the cache tag of {target}"))

    def specs(self, target: str) -> CacheSpecs:
        """The cache specs of the build of *target*."""
        derived = self.mode == "registry"
        ref = self.ref(target) if derived else ""
        return CacheSpecs(
            cache_from=self.cache_from or ((f"type=registry,ref={ref}",) if derived else ()),
            cache_to=self.cache_to or ((f"type=registry,ref={ref},mode=max",) if derived else ()),
        )

    def exports(self, targets: Sequence[str]) -> tuple[str, ...]:
        """Every cache export of the builds of *targets*, for the preflight."""
        return tuple(spec for target in targets for spec in self.specs(target).cache_to)


NONE = CacheSettings()


def settings(config: Config) -> CacheSettings:
    """The cache settings *config* makes."""
    return CacheSettings(
        mode=config.cache,
        image=config.image,
        cache_from=config.cache_from,
        cache_to=config.cache_to,
    )
