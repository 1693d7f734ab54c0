"""Pinning the base image by digest in ``containerize.lock``, a file users commit.

A tag moves; a digest does not. The first build resolves the base image's tag to the
digest of its index and records it; later builds use the recorded digest until the
user asks for a refresh. The file is written with tomlkit so comments survive.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

import tomlkit

from containerize import bases, process
from containerize.engine import docker
from containerize.errors import ConfigError, EngineError
from containerize.fsutil import write_atomic
from containerize.reference import parse_digest

_HEADER = (
    "Written by containerize: base images pinned by digest, so builds are repeatable.\n"
    "Commit this file. Refresh with 'containerize pin --refresh'."
)


def read(path: Path) -> dict[str, str]:
    """The pins recorded in *path*: image reference -> ``sha256:...`` digest."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start})",
            hint=f"delete {path.name} and run 'containerize pin' to write it again",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid TOML: {exc}",
            hint=f"delete {path.name} and run 'containerize pin' to write it again",
        ) from None
    table = data.get("base-images", {})
    if not isinstance(table, dict):
        raise ConfigError(
            f"{path}: [base-images] must map image references to 'sha256:...' digests",
            hint=f"delete {path.name} and run 'containerize pin' to write it again",
        )
    pins = {}
    for ref, digest in table.items():
        try:
            pins[ref] = parse_digest(digest, where=f'{path}: base-images."{ref}"')
        except ConfigError as exc:
            # The digest is written into the Dockerfile: a malformed one is never used.
            raise ConfigError(
                f"{exc.message}; [base-images] must map image references to 'sha256:...' digests",
                hint="run 'containerize pin --refresh' to resolve and record the digest again",
            ) from None
    return pins


def resolve(ref: str, *, builder: str | None = None) -> str:
    """The digest of *ref*'s manifest (the index, for a multi-arch image) in its registry."""
    result = docker.buildx(
        "imagetools", "inspect", ref, "--format", "{{json .Manifest}}",
        builder=builder, check=False, timeout=120,
    )  # fmt: skip
    if result.returncode != 0:
        raise EngineError(
            f"cannot resolve base image {ref!r}: {process.tail(result.stderr, 3)}",
            hint=bases.unreachable_hint(ref),
        )
    try:
        digest = json.loads(result.stdout).get("digest")
    except (ValueError, AttributeError):
        digest = None
    if digest is None:
        raise EngineError(f"the registry gave no digest for {ref!r}")
    try:
        return parse_digest(digest, where=f"the digest the registry gave for {ref!r}")
    except ConfigError as exc:
        raise EngineError(exc.message, hint="check the registry that serves the image") from None


def pinned(ref: str, path: Path, *, refresh: bool = False, builder: str | None = None) -> str:
    """*ref* pinned as ``name@sha256:...``, resolving and recording it when needed."""
    if "@" in ref:
        return ref
    # Refreshing does not read what is recorded: it replaces it, a malformed one too.
    pins = {} if refresh else read(path)
    if ref in pins:
        return f"{ref}@{pins[ref]}"
    digest = resolve(ref, builder=builder)
    write(path, ref, digest)
    return f"{ref}@{digest}"


def write(path: Path, ref: str, digest: str) -> None:
    """Record *ref* -> *digest* in *path*, keeping the rest of the file as it was."""
    parse_digest(digest, where=f'the digest for base-images."{ref}" in {path}')
    try:
        document = tomlkit.parse(path.read_text())
    except FileNotFoundError:
        document = tomlkit.document()
        for line in _HEADER.splitlines():
            document.add(tomlkit.comment(line))
    table = document.get("base-images")
    if table is None:
        table = tomlkit.table()
        document["base-images"] = table
    table[ref] = digest
    write_atomic(path, tomlkit.dumps(document))


@dataclass(frozen=True, kw_only=True)
class Base:
    """The base image as far as it could be pinned, and what to say about it."""

    image: str
    notices: tuple[str, ...] = ()


def pin_base(
    ref: str,
    *,
    pins_file: Path,
    builder: str | None,
    engine: bool,
    record: bool,
    refresh: bool,
) -> Base:
    """The base image *ref* pinned by digest; without the engine, as far as the pins
    file says. With the engine and *record*, a new digest is written to *pins_file*."""
    if "@" in ref:
        return Base(image=ref)
    recorded = None if refresh else read(pins_file).get(ref)
    if recorded:
        return Base(image=f"{ref}@{recorded}")
    if engine and record:
        return Base(image=pinned(ref, pins_file, refresh=refresh, builder=builder))
    if engine:
        digest = resolve(ref, builder=builder)
        return Base(
            image=f"{ref}@{digest}",
            notices=(
                f"note: {ref} resolves to {digest}; 'containerize pin' records it in "
                f"{pins_file.name}",
            ),
        )
    return Base(
        image=ref,
        notices=(
            f"note: {ref} is not pinned yet; a build with the engine pins it in {pins_file.name}",
        ),
    )
