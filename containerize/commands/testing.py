"""``test``: the test matrix, on the images just built or on the digests a release
pushed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from containerize import config, workspace
from containerize.engine import preflight, probes
from containerize.errors import ConfigError, ContainerTestError
from containerize.matrix import plan as matrix_plan
from containerize.matrix import report as matrix_report
from containerize.matrix import runner
from containerize.platforms import parse_platforms
from containerize.release import publish


def test(
    project: Path,
    *,
    servers: Sequence[str],
    platforms: Sequence[str],
    images: Sequence[str],
    jobs: int | None,
    targets: Sequence[str],
) -> int:
    """Run the test matrix and print its table; non-zero when any cell fails. In a
    repository with several targets, the matrix of each target (of *targets*)."""
    if jobs is not None and jobs < 1:
        raise ConfigError(f"--jobs {jobs}: run at least one cell at a time", hint="e.g. --jobs 2")
    chosen = parse_platforms(platforms, where="--platform") if platforms else ()
    configs = workspace.configs(project, targets)
    if images and len(configs) > 1:
        raise ConfigError(
            "--image names one target's image: name that target",
            hint=f"containerize test {configs[0][0]} --image ...",
        )
    plans = [
        (
            cfg,
            matrix_plan.plan_matrix(
                cfg,
                servers_=servers,
                platforms=chosen,
                images=matrix_plan.parse_images(images, servers_=servers or cfg.servers),
                native_arch=probes.native_arch(),
                target=name,
            ),
        )
        for name, cfg in configs
    ]
    preflight.require_daemon()
    failed = [name for cfg, plan in plans for name in run_matrix(cfg, plan, jobs=jobs)]
    if failed and len(plans) > 1:
        print(f"\nfailed, over every target: {', '.join(failed)}")
    return ContainerTestError.exit_code if failed else 0


def run_matrix(cfg: config.Config, plan: matrix_plan.MatrixPlan, *, jobs: int | None) -> list[str]:
    """Run *plan*'s cells, print the table and the failures, keep the reports; the
    names of the cells that failed."""
    print(f"testing {len(plan.cells)} cell(s): " + ", ".join(c.name for c in plan.cells))

    def finished(result: matrix_report.CellResult) -> None:
        state = "passed" if result.passed else "FAILED"
        print(f"  {result.name}: {state} in {result.seconds:.0f}s", flush=True)

    results = runner.run_matrix(plan, project_dir=cfg.project_dir, jobs=jobs, on_result=finished)
    written = matrix_report.record(cfg.build_dir, results, plan.all_cells)
    print()
    print(matrix_report.table(results))
    details = matrix_report.failures(results)
    if details:
        print("\n" + details)
    print(f"\nreport: {written.markdown}\nJUnit XML: {written.junit}")
    if written.missing:
        print(f"(cells without a result yet: {', '.join(written.missing)})")
    failed = [r.name for r in results if not r.passed]
    if failed:
        print(f"\n{len(failed)} of {len(results)} cell(s) failed: {', '.join(failed)}")
    return failed


def matrix_on_digests(cfg: config.Config, *, target: str = "") -> publish.TestHook:
    """The release's test step: the matrix, run on the digests just pushed (pulled back
    from the registry), every server and platform being released."""

    def test_digests(images: Mapping[str, str]) -> None:
        plan = matrix_plan.plan_matrix(
            cfg,
            servers_=tuple(images),
            images=images,
            native_arch=probes.native_arch(),
            target=target,
        )
        failed = run_matrix(cfg, plan, jobs=None)
        if failed:
            raise ContainerTestError(
                f"the test matrix failed on the pushed digests: {', '.join(failed)}",
                hint="see the failures above and the report; fix and release again (the "
                "digests stay in the registry untagged)",
            )

    return test_digests
