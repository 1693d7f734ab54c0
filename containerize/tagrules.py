"""Tag templates: the placeholders, the default schemes, and the check of a template.

The configuration checks a server's ``tag-templates`` when it is read, and the release
renders them (:mod:`containerize.release.tags`): both read a template through
:func:`scheme`, so a template the configuration accepts is one the release can render.
"""

from __future__ import annotations

import difflib
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from containerize.errors import ConfigError

#: The placeholders a tag template may use.
PLACEHOLDERS = ("version", "major", "minor", "server", "sha")

#: The default server's tags: exact version, commit, then the moving ones.
DEFAULT_SERVER_TEMPLATES = ("{version}", "sha-{sha}", "{major}.{minor}", "{major}", "latest")
#: Every other server's tags: the same, suffixed, with the server's name for ``latest``.
SERVER_TEMPLATES = (
    "{version}-{server}",
    "sha-{sha}-{server}",
    "{major}.{minor}-{server}",
    "{major}-{server}",
    "{server}",
)

#: Where the version and the templates come from, for errors; the caller may be precise.
VERSION_WHERE = "pyproject.toml: project.version"
TEMPLATES_WHERE = "pyproject.toml: tool.containerize.tag-templates"

_IMMUTABLE_FIELDS = frozenset({"version", "sha"})

_TEMPLATE_HINT = (
    "a template is text with the placeholders "
    + ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
    + ", e.g. '{version}-{server}' or '{major}.{minor}-{server}'"
)


@dataclass(frozen=True, kw_only=True)
class Template:
    """One checked template, and where it came from for errors."""

    text: str
    fields: frozenset[str]
    where: str  # the template's setting, or the version's for the default scheme
    configured: bool  # written by the user, as opposed to the default scheme

    @property
    def mutable(self) -> bool:
        """A template without ``{version}`` or ``{sha}`` gives a tag that moves."""
        return not self.fields & _IMMUTABLE_FIELDS

    def describe(self) -> str:
        """The template for an error: its setting, or the default it is."""
        if self.configured:
            return f"{self.where} ({self.text!r})"
        return f"the default tag {self.text!r}"


def check_templates(
    templates: Mapping[str, Sequence[str] | str], *, where: str = TEMPLATES_WHERE
) -> None:
    """Check each server's templates as the release will read them, so a bad one is
    reported when the configuration is read, not at release time."""
    for name in templates:
        scheme(name, default=False, templates=templates, where=where, version_where=where)


def scheme(
    name: str,
    *,
    default: bool,
    templates: Mapping[str, Sequence[str] | str],
    where: str,
    version_where: str,
) -> tuple[Template, ...]:
    """The templates of server *name*: its configured ones, or the default scheme
    (*default*: the default server's)."""
    if name not in templates:
        # The default scheme only goes wrong through the version (a tag too long).
        texts = DEFAULT_SERVER_TEMPLATES if default else SERVER_TEMPLATES
        return tuple(template(text, where=version_where, configured=False) for text in texts)
    configured = templates[name]
    where = f"{where}.{name}"
    if isinstance(configured, str):
        configured = [configured]
    if not configured:
        raise ConfigError(
            f"{where} is empty: {name} would get no tag",
            hint=f"remove {where} to use the default tags, or list templates such as "
            "'{version}-{server}'",
        )
    checked = []
    for i, text in enumerate(configured):
        if text in configured[:i]:
            raise ConfigError(f"{where}[{i}]: {text!r} is listed twice", hint="list it once")
        checked.append(template(text, where=f"{where}[{i}]", configured=True))
    return tuple(checked)


def template(text: str, *, where: str, configured: bool) -> Template:
    """*text* read as a tag template: known placeholders only, without formats."""
    if not isinstance(text, str) or not text:
        raise ConfigError(f"{where}: expected a tag template, got {text!r}", hint=_TEMPLATE_HINT)
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as error:
        raise ConfigError(
            f"{where}: {text!r} is not a tag template: {error}",
            hint=f"{_TEMPLATE_HINT}; a brace that is not a placeholder cannot be in a tag",
        ) from None
    fields = set()
    for _literal, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in PLACEHOLDERS:
            close = difflib.get_close_matches(field, PLACEHOLDERS, n=1)
            hint = f"did you mean {{{close[0]}}}? " if close else ""
            raise ConfigError(
                f"{where}: {text!r} uses the unknown placeholder {{{field}}}",
                hint=hint + _TEMPLATE_HINT,
            )
        if spec or conversion:
            raise ConfigError(
                f"{where}: {text!r} formats the placeholder {{{field}}}",
                hint=f"write {{{field}}} alone: placeholders take no format or conversion",
            )
        fields.add(field)
    return Template(text=text, fields=frozenset(fields), where=where, configured=configured)
