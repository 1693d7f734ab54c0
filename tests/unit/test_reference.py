"""Image references by the distribution reference grammar."""

from __future__ import annotations

import pytest

from containerize import reference
from containerize.errors import ConfigError
from containerize.reference import ImageReference

SHA = "sha256:" + "0123456789abcdef" * 4
WHERE = "tool.containerize.base-image"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("python", ImageReference(domain=None, path="python")),
        ("python:3.11-slim", ImageReference(domain=None, path="python", tag="3.11-slim")),
        ("library/python:3", ImageReference(domain=None, path="library/python", tag="3")),
        (
            "127.0.0.1:5000/containerize/python:3.11-bookworm@" + SHA,
            ImageReference(
                domain="127.0.0.1:5000",
                path="containerize/python",
                tag="3.11-bookworm",
                digest=SHA,
            ),
        ),
        ("localhost/app", ImageReference(domain="localhost", path="app")),
        ("localhost:5000/app", ImageReference(domain="localhost:5000", path="app")),
        ("ghcr.io/a/b/c", ImageReference(domain="ghcr.io", path="a/b/c")),
        ("Registry/app", ImageReference(domain="Registry", path="app")),
        ("[::1]:5000/app:v1", ImageReference(domain="[::1]:5000", path="app", tag="v1")),
        ("python@" + SHA, ImageReference(domain=None, path="python", digest=SHA)),
        ("team/a__b.c-d---e/f_g", ImageReference(domain=None, path="team/a__b.c-d---e/f_g")),
        ("python:_" + "x" * 127, ImageReference(domain=None, path="python", tag="_" + "x" * 127)),
        ("python:V1.0_RC", ImageReference(domain=None, path="python", tag="V1.0_RC")),
    ],
)
def test_valid_references_parse_and_print_back(text: str, expected: ImageReference) -> None:
    ref = reference.parse(text, where=WHERE)
    assert ref == expected
    assert str(ref) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "an image reference is required"),
        ("python\nRUN curl evil | sh", r"'\\n' \(U\+000A\)"),
        ("python:3.11\n", r"'\\n' \(U\+000A\)"),
        ("python 3.11", r"' ' \(U\+0020\)"),
        ("py\tthon", r"U\+0009"),
        ("python;rm -rf /", "U\\+0020"),
        ("python;rm", r"'python;rm' is not a valid repository name"),
        ("example.com/MyApp", "repository names must be lowercase"),
        ("MyApp", "repository names must be lowercase"),
        ("café", "U\\+00E9"),
        ("python:" + "x" * 129, "129 characters long, more than 128"),
        ("python:-dash", "cannot start with '.' or '-'"),
        ("python:", "the tag ''"),
        ("python:3$(id)", "the tag '3\\$\\(id\\)'"),
        (":3.11", "has no repository name"),
        ("a//b", "not a valid repository name"),
        ("a/b/", "not a valid repository name"),
        ("-a/b", "not a valid repository name"),
        ("a-/b", "not a valid repository name"),
        ("a...b", "not a valid repository name"),
        ("-host.example/app", "is not a registry host"),
        ("host.example:port/app", "'host.example:port' in .* is not a registry host"),
        ("a__b.c/app", "'a__b.c' in .* is not a registry host"),
        ("example.com/" + "a" * 250, "more than the 255"),
        ("0123456789abcdef" * 4, "a 64-digit image ID"),
        ("python@sha256:nothex; rm -rf /", "U\\+0020"),
        ("python@sha256:nothex", "not a sha256 digest"),
        ("python@sha256:" + "A" * 64, "64 lowercase hexadecimal digits"),
        ("python@sha256:" + "a" * 63, "64 lowercase hexadecimal digits"),
        ("python@md5:" + "a" * 32, "unsupported digest algorithm 'md5'"),
        ("python@" + "a" * 64, "is not a digest"),
        ("python@" + SHA + "@" + SHA, "not a sha256 digest"),
    ],
)
def test_invalid_references_are_refused_with_where_and_how(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        reference.parse(text, where=WHERE)
    assert info.value.message.startswith(f"{WHERE}: ")
    assert info.value.hint


def test_repository_tag_and_digest_are_replaced_checked() -> None:
    ref = reference.parse("registry.example:5000/team/app:1.0", where=WHERE)
    assert ref.repository == "registry.example:5000/team/app"
    assert str(ref.with_tag("2.0")) == "registry.example:5000/team/app:2.0"
    pinned = ref.with_digest(SHA)
    assert str(pinned) == f"registry.example:5000/team/app:1.0@{SHA}"
    assert str(pinned.with_tag("3")) == f"registry.example:5000/team/app:3@{SHA}"
    with pytest.raises(ConfigError, match="the tag 'a b'"):
        ref.with_tag("a b", where="--tag")
    with pytest.raises(ConfigError, match="not a sha256 digest"):
        ref.with_digest("sha256:xyz", where="registry answer")


def test_repository_alone_refuses_a_tag_or_digest() -> None:
    repo = reference.parse_repository("registry.example/team/app", where="image")
    assert str(repo) == "registry.example/team/app"
    with pytest.raises(ConfigError, match="has a tag") as info:
        reference.parse_repository("registry.example/team/app:1", where="image")
    assert info.value.hint == "write 'registry.example/team/app': containerize adds the tags itself"
    with pytest.raises(ConfigError, match="has a digest"):
        reference.parse_repository(f"app@{SHA}", where="image")


@pytest.mark.parametrize(
    "digest",
    [SHA, "sha384:" + "a" * 96, "sha512:" + "0" * 128],
)
def test_bare_digests(digest: str) -> None:
    assert reference.parse_digest(digest, where="containerize.lock") == digest


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sha256:nothex; rm -rf /", "U\\+0020"),
        ("sha256:" + "g" * 64, "64 lowercase hexadecimal digits"),
        ("sha256:" + "a" * 65, "64 lowercase hexadecimal digits"),
        ("sha256:" + "a" * 64 + "\n", "U\\+000A"),
        ("sha512:" + "a" * 64, "128 lowercase hexadecimal digits"),
        ("sha256" + "a" * 64, "is not a digest"),
        ("1sha:" + "a" * 64, "is not a digest"),
        ("blake3:" + "a" * 64, "unsupported digest algorithm 'blake3'"),
        ("", "is not a digest"),
    ],
)
def test_bad_bare_digests(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        reference.parse_digest(text, where="containerize.lock: base-images.python")
    assert info.value.message.startswith("containerize.lock: base-images.python: ")
    assert info.value.hint
