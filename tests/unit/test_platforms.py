from __future__ import annotations

import pytest

from containerize.errors import ConfigError
from containerize.platforms import LINUX_AMD64, LINUX_ARM64, Platform, parse_platforms

ARM_V7 = Platform(os="linux", arch="arm", variant="v7")
ARM_V6 = Platform(os="linux", arch="arm", variant="v6")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("linux/amd64", LINUX_AMD64),
        ("linux/arm64", LINUX_ARM64),
        ("Linux/AArch64", LINUX_ARM64),
        ("linux/x86_64", LINUX_AMD64),
        ("linux/x86-64", LINUX_AMD64),
        ("linux/amd64/v1", LINUX_AMD64),
        ("linux/amd64/v3", Platform(os="linux", arch="amd64", variant="v3")),
        ("linux/arm64/v8", LINUX_ARM64),
        ("linux/aarch64/8", LINUX_ARM64),
        ("linux/arm64/v9", Platform(os="linux", arch="arm64", variant="v9")),
        ("linux/arm/v7", ARM_V7),
        ("linux/arm", ARM_V7),
        ("linux/arm/7", ARM_V7),
        ("linux/armhf", ARM_V7),
        ("linux/arm/v6", ARM_V6),
        ("linux/armel", ARM_V6),
        ("linux/i386", Platform(os="linux", arch="386")),
        ("linux/riscv64", Platform(os="linux", arch="riscv64")),
    ],
)
def test_parse_normalizes_like_containerd(text: str, expected: Platform) -> None:
    assert Platform.parse(text) == expected


def test_str_slug_and_machine() -> None:
    assert str(LINUX_ARM64) == "linux/arm64"
    assert LINUX_ARM64.slug == "linux-arm64"
    assert LINUX_ARM64.machine == "aarch64"
    assert LINUX_AMD64.machine == "x86_64"
    # What BuildKit's ${TARGETOS}-${TARGETARCH}${TARGETVARIANT} gives for linux/arm.
    arm = Platform.parse("linux/arm")
    assert (str(arm), arm.slug, arm.machine) == ("linux/arm/v7", "linux-armv7", "armv7l")
    assert Platform.parse("linux/armel").machine == "armv6l"
    v2 = Platform.parse("linux/amd64/v2")
    assert (str(v2), v2.slug, v2.machine) == ("linux/amd64/v2", "linux-amd64v2", "x86_64")


def test_platforms_sort_with_and_without_variants() -> None:
    v2 = Platform.parse("linux/amd64/v2")
    assert sorted([ARM_V7, v2, LINUX_ARM64, LINUX_AMD64, ARM_V6]) == [
        LINUX_AMD64,
        v2,
        ARM_V6,
        ARM_V7,
        LINUX_ARM64,
    ]


def test_only_normalized_platforms_can_be_constructed() -> None:
    with pytest.raises(ValueError, match="not a normalized platform"):
        Platform(os="linux", arch="arm")
    with pytest.raises(ValueError, match="not a normalized platform"):
        Platform(os="linux", arch="arm64", variant="v8")
    with pytest.raises(ValueError, match="not a normalized platform"):
        Platform(os="linux", arch="amd64", variant="zzz9")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("amd64", "is not a platform"),
        ("linux/amd64/", "is not a platform"),
        ("linux/amd64\n", "is not a platform"),
        (" linux/amd64", "is not a platform"),
        ("linux/amd64/v2/x", "is not a platform"),
        ("linux/amd64;id", "is not a platform"),
        ("windows/amd64", "only linux images"),
        ("linux/mips", "unknown architecture 'mips'"),
        ("linux/amd64/zzz9", "unknown variant 'zzz9' of amd64"),
        ("linux/amd64/v5", "unknown variant 'v5' of amd64"),
        ("linux/arm64/v7", "unknown variant 'v7' of arm64"),
        ("linux/arm/v5", "unknown variant 'v5' of arm"),
        ("linux/riscv64/v1", "unknown variant 'v1' of riscv64"),
        ("linux/armhf/v6", "'armhf' already means arm/v7"),
    ],
)
def test_malformed(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        Platform.parse(text, where="tool.containerize.platforms[0]")
    assert info.value.message.startswith("tool.containerize.platforms[0]: ")
    assert info.value.hint


def test_unknown_variant_hint_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        Platform.parse("linux/amd64/zzz9")
    assert info.value.hint == (
        "write 'linux/amd64' or one of 'linux/amd64/v2', 'linux/amd64/v3', 'linux/amd64/v4'"
    )
    with pytest.raises(ConfigError) as info:
        Platform.parse("linux/s390x/v1")
    assert info.value.hint == "s390x has no variants: write 'linux/s390x'"


def test_parse_platforms_keeps_order() -> None:
    assert parse_platforms(["linux/arm64", "linux/x86_64", "linux/arm"], where="p") == (
        LINUX_ARM64,
        LINUX_AMD64,
        ARM_V7,
    )


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        (["linux/amd64", "linux/amd64"], r"w\[1\]: 'linux/amd64' is linux/amd64, which w\[0\]"),
        (
            ["linux/amd64", "linux/arm64", "linux/aarch64"],
            r"w\[2\]: 'linux/aarch64' is linux/arm64, which w\[1\] \('linux/arm64'\) already",
        ),
        (["linux/arm64/v8", "linux/arm64"], r"w\[1\]: 'linux/arm64' is linux/arm64"),
        (["linux/arm", "linux/arm/v7"], r"w\[1\]: 'linux/arm/v7' is linux/arm/v7"),
        (["linux/amd64/v1", "linux/x86_64"], r"w\[1\]: 'linux/x86_64' is linux/amd64"),
    ],
)
def test_parse_platforms_refuses_repeats_after_normalization(
    texts: list[str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_platforms(texts, where="w")
    assert info.value.hint is not None
    assert "remove w[" in info.value.hint


def test_parse_platforms_names_the_index_and_refuses_empty() -> None:
    with pytest.raises(ConfigError, match=r"^w\[1\]: 'linux/amd64/zzz9': unknown variant"):
        parse_platforms(["linux/arm64", "linux/amd64/zzz9"], where="w")
    with pytest.raises(ConfigError, match="w is empty"):
        parse_platforms([], where="w")
    # A single string from an environment variable is a list of one.
    assert parse_platforms("linux/arm64", where="w") == (LINUX_ARM64,)
