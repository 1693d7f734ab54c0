from __future__ import annotations

import pytest

from containerize.errors import ConfigError
from containerize.platforms import LINUX_AMD64, LINUX_ARM64, Platform


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("linux/amd64", LINUX_AMD64),
        ("linux/arm64", LINUX_ARM64),
        ("Linux/AArch64", LINUX_ARM64),
        ("linux/x86_64", LINUX_AMD64),
        ("linux/arm/v7", Platform(os="linux", arch="arm", variant="v7")),
    ],
)
def test_parse(text: str, expected: Platform) -> None:
    assert Platform.parse(text) == expected


def test_str_and_slug() -> None:
    assert str(LINUX_ARM64) == "linux/arm64"
    assert LINUX_ARM64.slug == "linux-arm64"
    assert LINUX_ARM64.machine == "aarch64"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("amd64", "is not a platform"),
        ("linux/amd64/", "is not a platform"),
        ("windows/amd64", "only linux images"),
        ("linux/mips", "unknown architecture 'mips'"),
    ],
)
def test_malformed(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        Platform.parse(text, where="tool.containerize.platforms[0]")
    assert "tool.containerize.platforms[0]" in str(info.value)
    assert info.value.hint
