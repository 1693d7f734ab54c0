"""The tag plan of a release: versions, sha tags, per-server schemes and the dry run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from containerize.errors import ConfigError
from containerize.platforms import LINUX_AMD64, LINUX_ARM64
from containerize.release.tags import Kind, TagPlan, format_plan, parse_version, plan_tags

REPO = "registry.example/team/app"
REVISION = "0123456789abcdef0123456789abcdef01234567"
TEMPLATES = "pyproject.toml: tool.containerize.tag-templates"


def plan(
    version: str | None = "1.2.3",
    *,
    servers: Sequence[str] = ("gunicorn",),
    revision: str | None = None,
    dirty: bool = False,
    force: bool = False,
    templates: Mapping[str, Sequence[str] | str] | None = None,
) -> TagPlan:
    return plan_tags(
        version=version,
        repository=REPO,
        servers=servers,
        revision=revision,
        dirty=dirty,
        force=force,
        templates=templates,
    )


def plan_error(
    version: str | None = "1.2.3",
    *,
    servers: Sequence[str] = ("gunicorn",),
    templates: Mapping[str, Sequence[str] | str] | None = None,
) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        plan(version, servers=servers, templates=templates)
    return caught.value


def names(tag_plan: TagPlan, server: str = "gunicorn") -> list[str]:
    return [tag.name for tag in tag_plan.server(server).tags]


def moving(tag_plan: TagPlan, server: str = "gunicorn") -> list[str]:
    return [tag.name for tag in tag_plan.server(server).moving]


# -- versions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "kind", "tags"),
    [
        ("1.2.3", Kind.FINAL, ["1.2.3", "1.2", "1", "latest"]),
        ("2.0.0", Kind.FINAL, ["2.0.0", "2.0", "2", "latest"]),
        ("1.2.3.4", Kind.FINAL, ["1.2.3.4", "1.2", "1", "latest"]),
        # A moving tag that is the exact tag itself stays the exact, immutable tag.
        ("1.0", Kind.FINAL, ["1.0", "1", "latest"]),
        ("3", Kind.FINAL, ["3", "3.0", "latest"]),
        # Major version 0: no '0' tag, which would span every breaking 0.x release.
        ("0.4.1", Kind.FINAL, ["0.4.1", "0.4", "latest"]),
        ("0.0.3", Kind.FINAL, ["0.0.3", "0.0", "latest"]),
        ("1.3.0rc1", Kind.PRE, ["1.3.0rc1"]),
        ("1.3.0a2", Kind.PRE, ["1.3.0a2"]),
        ("0.4.0b1", Kind.PRE, ["0.4.0b1"]),
        ("1.3.0.dev2", Kind.DEV, ["1.3.0.dev2"]),
        ("1.3.0rc1.dev1", Kind.DEV, ["1.3.0rc1.dev1"]),
        ("1.2.3.post1", Kind.POST, ["1.2.3.post1"]),
        ("1.2.3+abc", Kind.LOCAL, ["1.2.3_abc"]),
        ("1.2.3+ubuntu.2", Kind.LOCAL, ["1.2.3_ubuntu.2"]),
        ("1.2.3.post1+abc", Kind.POST, ["1.2.3.post1_abc"]),
    ],
)
def test_version_decides_the_tags(version: str, kind: Kind, tags: list[str]) -> None:
    tag_plan = plan(version)
    assert tag_plan.version.kind is kind
    assert names(tag_plan) == tags


@pytest.mark.parametrize("version", ["1.3.0rc1", "1.3.0.dev2", "1.2.3.post1", "1.2.3+abc"])
def test_only_a_final_release_moves_tags(version: str) -> None:
    tag_plan = plan(version, servers=("gunicorn", "uwsgi"), revision=REVISION)
    assert all(tag.immutable for tag in tag_plan.tags)
    assert "latest" not in [tag.name for tag in tag_plan.tags]


@pytest.mark.parametrize(
    ("written", "normal", "tag"),
    [
        ("1.2.3-RC1", "1.2.3rc1", "1.2.3rc1"),
        ("v1.2.3", "1.2.3", "1.2.3"),
        ("1.2.3-1", "1.2.3.post1", "1.2.3.post1"),
        ("1.2.3.DEV", "1.2.3.dev0", "1.2.3.dev0"),
        ("1.2.3alpha1", "1.2.3a1", "1.2.3a1"),
        ("1.2.3+ABC-def_1", "1.2.3+abc.def.1", "1.2.3_abc.def.1"),
        (" 1.2.3\n", "1.2.3", "1.2.3"),
    ],
)
def test_versions_are_tagged_in_their_normal_form(written: str, normal: str, tag: str) -> None:
    release = parse_version(written)
    assert (release.text, release.tag) == (normal, tag)
    assert plan(written).server("gunicorn").immutable[0].name == tag


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("1.2.x", "pyproject.toml: project.version: '1.2.x' is not a PEP 440 version"),
        ("", "pyproject.toml: project.version: '' is not a PEP 440 version"),
        ("latest", "'latest' is not a PEP 440 version"),
        (None, "pyproject.toml: project.version is missing"),
        ("1!2.0", r"'1!2.0' has an epoch \(1!\), which image tags cannot express"),
    ],
)
def test_a_version_that_cannot_be_tagged_is_refused(version: str | None, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        plan(version)
    assert caught.value.hint


def test_the_epoch_error_suggests_the_version_without_it() -> None:
    with pytest.raises(ConfigError) as caught:
        plan("2!1.0.0rc1")
    assert caught.value.hint == "release it as '1.0.0rc1', or tag the image by hand"


def test_the_caller_names_where_the_version_came_from() -> None:
    with pytest.raises(ConfigError, match=r"^pyproject.toml: tool.poetry.version: 'x'"):
        plan_tags(
            version="x",
            repository=REPO,
            servers=["gunicorn"],
            version_where="pyproject.toml: tool.poetry.version",
        )


def test_a_version_too_long_for_a_tag_names_the_version() -> None:
    version = "1.2.3+" + "a" * 115  # 121 characters: valid alone, too long with '-mod_wsgi'
    assert names(plan(version)) == ["1.2.3_" + "a" * 115]
    with pytest.raises(ConfigError, match=r"^pyproject.toml: project.version: '1.2.3\+a+' gives"):
        plan(version, servers=("gunicorn", "mod_wsgi"))


# -- sha tags ------------------------------------------------------------------------


def test_a_revision_adds_an_immutable_sha_tag() -> None:
    tag_plan = plan(revision=REVISION)
    assert [tag.name for tag in tag_plan.server("gunicorn").immutable] == ["1.2.3", "sha-0123456"]
    assert tag_plan.revision == REVISION
    assert not tag_plan.sha_forced


def test_a_pre_release_gets_a_sha_tag_too() -> None:
    assert names(plan("1.3.0rc1", revision=REVISION)) == ["1.3.0rc1", "sha-0123456"]


def test_no_revision_no_sha_tag() -> None:
    tag_plan = plan(revision=None, dirty=True)
    assert names(tag_plan) == ["1.2.3", "1.2", "1", "latest"]
    assert not tag_plan.sha_forced


def test_a_sha256_repository_revision_is_shortened_too() -> None:
    assert "sha-abcdef0" in names(plan(revision="abcdef0" + "1" * 57))


def test_a_dirty_work_tree_refuses_the_sha_tag() -> None:
    with pytest.raises(ConfigError, match="uncommitted changes: the tag sha-0123456") as caught:
        plan(revision=REVISION, dirty=True)
    assert caught.value.hint is not None
    assert "commit" in caught.value.hint
    assert "--force" in caught.value.hint


def test_force_keeps_the_sha_tag_of_a_dirty_tree_and_says_so() -> None:
    tag_plan = plan(revision=REVISION, dirty=True, force=True)
    assert "sha-0123456" in names(tag_plan)
    assert tag_plan.sha_forced


def test_a_dirty_tree_matters_only_when_a_sha_tag_is_planned() -> None:
    tag_plan = plan(revision=REVISION, dirty=True, templates={"gunicorn": ["{version}"]})
    assert names(tag_plan) == ["1.2.3"]
    assert not tag_plan.sha_forced


@pytest.mark.parametrize("revision", ["0123456", REVISION.upper(), REVISION + "0", "HEAD", ""])
def test_a_revision_must_be_a_full_commit_hash(revision: str) -> None:
    with pytest.raises(ConfigError, match="is not a full commit hash"):
        plan(revision=revision)


# -- servers -------------------------------------------------------------------------


def test_the_default_server_gets_bare_tags_and_the_others_a_suffix() -> None:
    tag_plan = plan(servers=("uwsgi", "gunicorn", "mod_wsgi"), revision=REVISION)
    assert [(entry.server, entry.default) for entry in tag_plan.servers] == [
        ("uwsgi", True),
        ("gunicorn", False),
        ("mod_wsgi", False),
    ]
    assert names(tag_plan, "uwsgi") == ["1.2.3", "sha-0123456", "1.2", "1", "latest"]
    assert names(tag_plan, "gunicorn") == [
        "1.2.3-gunicorn",
        "sha-0123456-gunicorn",
        "1.2-gunicorn",
        "1-gunicorn",
        "gunicorn",
    ]
    assert names(tag_plan, "mod_wsgi")[-1] == "mod_wsgi"


def test_a_pre_release_of_another_server_gets_its_suffixed_exact_tag_only() -> None:
    tag_plan = plan("2.0.0b3", servers=("gunicorn", "cheroot"))
    assert names(tag_plan, "cheroot") == ["2.0.0b3-cheroot"]


def test_references_are_the_repository_with_each_tag() -> None:
    entry = plan(servers=("gunicorn", "uwsgi")).server("uwsgi")
    assert entry.references == (
        f"{REPO}:1.2.3-uwsgi",
        f"{REPO}:1.2-uwsgi",
        f"{REPO}:1-uwsgi",
        f"{REPO}:uwsgi",
    )
    assert entry.tags[0].reference.repository == REPO
    assert entry.tags[0].reference.tag == "1.2.3-uwsgi"


def test_every_tag_of_a_plan_is_unique() -> None:
    tag_plan = plan(servers=("gunicorn", "uwsgi", "mod_wsgi", "cheroot"), revision=REVISION)
    all_names = [tag.name for tag in tag_plan.tags]
    assert len(all_names) == len(set(all_names)) == 20


@pytest.mark.parametrize(
    ("servers", "message"),
    [((), "no servers to release"), (("gunicorn", "gunicorn"), r"servers\[1\]: 'gunicorn'")],
)
def test_the_servers_are_checked(servers: Sequence[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        plan(servers=servers)


def test_the_repository_is_checked() -> None:
    with pytest.raises(ConfigError, match="a repository name is expected"):
        plan_tags(version="1.2.3", repository=f"{REPO}:1.0", servers=["gunicorn"])


# -- immutable and moving tags -------------------------------------------------------


def test_exact_versions_and_shas_are_immutable_the_rest_moves() -> None:
    tag_plan = plan(servers=("gunicorn", "uwsgi"), revision=REVISION)
    classified = {tag.name: tag.mutable for tag in tag_plan.tags}
    assert classified == {
        "1.2.3": False,
        "sha-0123456": False,
        "1.2": True,
        "1": True,
        "latest": True,
        "1.2.3-uwsgi": False,
        "sha-0123456-uwsgi": False,
        "1.2-uwsgi": True,
        "1-uwsgi": True,
        "uwsgi": True,
    }


def test_immutable_tags_come_before_moving_ones() -> None:
    entry = plan(templates={"gunicorn": ["latest", "{major}.{minor}", "{version}"]}).server(
        "gunicorn"
    )
    assert [tag.name for tag in entry.tags] == ["1.2.3", "latest", "1.2"]
    assert [tag.name for tag in entry.immutable] == ["1.2.3"]
    assert [tag.name for tag in entry.moving] == ["latest", "1.2"]


# -- templates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "templates", "tags"),
    [
        ("1.2.3", ["{version}-{server}", "{major}.{minor}-{server}"], ["1.2.3-uwsgi", "1.2-uwsgi"]),
        ("1.2.3", ["{server}-{version}", "{server}"], ["uwsgi-1.2.3", "uwsgi"]),
        ("1.2.3", ["{major}-{server}"], ["1-uwsgi"]),
        ("1.2.3", ["py311-{version}", "stable-{server}"], ["py311-1.2.3", "stable-uwsgi"]),
        (
            "1.2.3",
            ["{version}-{server}", "git-{sha}-{server}"],
            ["1.2.3-uwsgi", "git-0123456-uwsgi"],
        ),
        ("1.2.3", "{version}-{server}", ["1.2.3-uwsgi"]),  # one template, not a list
        # Moving templates give nothing for a release that is not final...
        ("1.3.0rc1", ["{version}-{server}", "{major}.{minor}-{server}"], ["1.3.0rc1-uwsgi"]),
        # ...and '{major}' alone nothing under major version 0.
        (
            "0.4.1",
            ["{version}-{server}", "{major}-{server}", "{major}.{minor}-{server}"],
            ["0.4.1-uwsgi", "0.4-uwsgi"],
        ),
        ("1.2.3+abc", ["{server}-{version}"], ["uwsgi-1.2.3_abc"]),
    ],
)
def test_templates_replace_a_servers_scheme(
    version: str, templates: Sequence[str] | str, tags: list[str]
) -> None:
    tag_plan = plan(
        version, servers=("gunicorn", "uwsgi"), revision=REVISION, templates={"uwsgi": templates}
    )
    assert names(tag_plan, "uwsgi") == tags
    assert names(tag_plan, "gunicorn")[0] == version.replace("+", "_")  # untouched


@pytest.mark.parametrize(
    ("template", "mutable"),
    [
        ("{version}", False),
        ("{major}.{minor}-{version}", False),
        ("sha-{sha}", False),
        ("{major}.{minor}", True),
        ("{major}", True),
        ("latest", True),
        ("{server}", True),
    ],
)
def test_a_templates_placeholders_decide_whether_its_tag_moves(
    template: str, mutable: bool
) -> None:
    tag_plan = plan(revision=REVISION, templates={"gunicorn": [template]})
    assert [tag.mutable for tag in tag_plan.server("gunicorn").tags] == [mutable]


def test_a_sha_template_gives_no_tag_without_a_revision() -> None:
    tag_plan = plan(revision=None, templates={"gunicorn": ["{version}", "sha-{sha}"]})
    assert names(tag_plan) == ["1.2.3"]


def test_templates_of_a_server_that_is_not_released_are_ignored() -> None:
    tag_plan = plan(templates={"uwsgi": ["{version}-{server}"]})
    assert [entry.server for entry in tag_plan.servers] == ["gunicorn"]


@pytest.mark.parametrize(
    ("templates", "message", "hint"),
    [
        (
            ["{version}-{srever}"],
            "uwsgi[0]: '{version}-{srever}' uses the unknown placeholder {srever}",
            "did you mean {server}?",
        ),
        (["{patch}"], "uwsgi[0]: '{patch}' uses the unknown placeholder {patch}", "{major}"),
        (["{}"], "uwsgi[0]: '{}' uses the unknown placeholder {}", "{major}"),
        (["{0}"], "uwsgi[0]: '{0}' uses the unknown placeholder {0}", "{major}"),
        (["{version.major}"], "unknown placeholder {version.major}", "{major}"),
        (["{version!r}"], "'{version!r}' formats the placeholder {version}", "no format"),
        (["{major:02}"], "'{major:02}' formats the placeholder {major}", "no format"),
        (["{version"], "'{version' is not a tag template: expected '}'", "a brace"),
        (["version}"], "'version}' is not a tag template: Single '}'", "a brace"),
        (
            ["{version}-{server}", "{version}+{server}"],
            "uwsgi[1]: '{version}+{server}' gives '1.2.3+uwsgi' for uwsgi, which is not a "
            "valid tag: a tag is 1 to 128 letters, digits, '_', '.' and '-', and does not "
            "start with '.' or '-'",
            "change the template",
        ),
        (["-{server}"], "gives '-uwsgi' for uwsgi, which is not a valid tag", "template"),
        (["{{{version}}}"], "gives '{1.2.3}' for uwsgi, which is not a valid tag", "template"),
        (["{version}-" + "x" * 128], "which is not a valid tag: a tag is 1 to 128", "template"),
        ([], "uwsgi is empty: uwsgi would get no tag", "use the default tags"),
        ([""], "uwsgi[0]: expected a tag template, got ''", "placeholders"),
        (["{version}", "{version}"], "uwsgi[1]: '{version}' is listed twice", "once"),
    ],
)
def test_a_bad_template_is_an_error_naming_it(
    templates: Sequence[str], message: str, hint: str
) -> None:
    error = plan_error(servers=("gunicorn", "uwsgi"), templates={"uwsgi": templates})
    assert error.message.startswith(f"{TEMPLATES}.uwsgi")
    assert message in error.message
    assert error.hint is not None
    assert hint in error.hint


def test_two_servers_never_share_a_tag() -> None:
    error = plan_error(servers=("gunicorn", "uwsgi"), templates={"uwsgi": ["{version}"]})
    assert error.message == (
        f"{TEMPLATES}.uwsgi[0]: '{{version}}' gives '1.2.3' for uwsgi, "
        "which the default tag '{version}' also gives gunicorn"
    )
    assert error.hint == "each tag names one server's image: add '-{server}' to the template"


def test_a_collision_blames_the_configured_template_even_when_it_comes_first() -> None:
    error = plan_error(servers=("gunicorn", "uwsgi"), templates={"gunicorn": ["{version}-uwsgi"]})
    assert error.message == (
        f"{TEMPLATES}.gunicorn[0]: '{{version}}-uwsgi' gives '1.2.3-uwsgi' for gunicorn, "
        "which the default tag '{version}-{server}' also gives uwsgi"
    )


def test_two_configured_templates_giving_one_tag_are_both_named() -> None:
    error = plan_error(
        servers=("gunicorn", "uwsgi", "cheroot"),
        templates={"uwsgi": ["{version}-{server}", "stable"], "cheroot": ["stable"]},
    )
    assert error.message == (
        f"{TEMPLATES}.cheroot[0]: 'stable' gives 'stable' for cheroot, "
        f"which {TEMPLATES}.uwsgi[1] ('stable') also gives uwsgi"
    )


def test_templates_must_give_a_release_that_is_not_final_some_tag() -> None:
    error = plan_error("1.3.0rc1", servers=("gunicorn", "uwsgi"), templates={"uwsgi": ["{server}"]})
    assert error.message == (
        f"{TEMPLATES}.uwsgi: no template gives uwsgi a tag for 1.3.0rc1, a pre-release"
    )
    assert error.hint is not None
    assert "'{version}-{server}'" in error.hint


# -- the dry run ---------------------------------------------------------------------


def test_the_dry_run_lists_each_servers_references_and_platforms() -> None:
    tag_plan = plan(servers=("gunicorn", "uwsgi"), revision=REVISION)
    assert format_plan(tag_plan, [LINUX_AMD64, LINUX_ARM64]) == (
        "Release 1.2.3 (final release) of registry.example/team/app "
        "from commit 0123456789abcdef0123456789abcdef01234567\n"
        "\n"
        "gunicorn (default server), one image index for linux/amd64, linux/arm64:\n"
        "  immutable  registry.example/team/app:1.2.3\n"
        "  immutable  registry.example/team/app:sha-0123456\n"
        "  moving     registry.example/team/app:1.2\n"
        "  moving     registry.example/team/app:1\n"
        "  moving     registry.example/team/app:latest\n"
        "\n"
        "uwsgi, one image index for linux/amd64, linux/arm64:\n"
        "  immutable  registry.example/team/app:1.2.3-uwsgi\n"
        "  immutable  registry.example/team/app:sha-0123456-uwsgi\n"
        "  moving     registry.example/team/app:1.2-uwsgi\n"
        "  moving     registry.example/team/app:1-uwsgi\n"
        "  moving     registry.example/team/app:uwsgi\n"
        "\n"
        "Immutable tags are never overwritten unless forced; "
        "moving tags move only after the tests pass.\n"
    )


def test_the_dry_run_says_why_a_release_moves_no_tag() -> None:
    text = format_plan(plan("1.3.0.dev2"), [LINUX_AMD64])
    assert text.splitlines()[:3] == [
        "Release 1.3.0.dev2 (development release) of registry.example/team/app",
        "1.3.0.dev2 is a development release: it gets exact tags only; latest and the "
        "other moving tags stay where they are.",
        "No git revision: no sha tags.",
    ]
    assert "  moving" not in text


def test_the_dry_run_warns_about_forced_sha_tags() -> None:
    text = format_plan(plan(revision=REVISION, dirty=True, force=True), [LINUX_AMD64])
    assert text.splitlines()[1].startswith("Warning: the work tree has uncommitted changes")
