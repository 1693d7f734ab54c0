"""benchmarks/platform_steps.py's pure parts: BuildKit's plain progress read into steps,
the phases of a bench log, the engine's CPU read from /proc. The measurement itself
runs under the engine (``python3 benchmarks/platform_steps.py 5 --cold``)."""

from __future__ import annotations

import os

from benchmarks import platform_steps

# A both-platform build's output as the bench keeps it: each line stamped with its
# seconds since the start, BuildKit's plain progress after the logged buildx command.
LOG = """\
$ sh -c 'exec "$@" 2>&1' sh env containerize build --push --no-cache
   0.197 $ docker buildx inspect
   0.802 $ docker buildx build --progress auto --platform linux/amd64,linux/arm64 --push ctx
   1.079 #2 [linux/amd64 internal] load metadata for 127.0.0.1:5000/python:3.11
   1.079 #2 DONE 0.0s
   1.196 #3 [context tools] load .dockerignore
   1.196 #3 DONE 0.1s
   1.300 #8 [linux/amd64 builder 1/2] FROM 127.0.0.1:5000/python:3.11
   1.300 #8 CACHED
   1.951 #16 [linux/amd64 layer-pillow 1/1] RUN --network=none install pillow
   2.389 #17 [linux/arm64 gunicorn 3/10] COPY --link --from=layer-pillow /layer/ /
   2.389 #17 DONE 0.4s
   2.400 #18 [linux/amd64 gunicorn 3/10] COPY --link --from=layer-pillow /layer/ /
   2.500 #18 DONE 0.1s
   4.426 #16 [linux/amd64 layer-pillow 1/1] RUN --network=none install pillow
   5.171 #16 DONE 3.2s
  10.473 #64 exporting to image
  10.473 #64 exporting layers
  12.050 #64 exporting layers 1.7s done
  12.241 #64 exporting manifest sha256:3047722928d0b99bfc2220254369756489196d84e7 done
  12.241 #64 pushing layers 0.1s done
  12.405 #64 DONE 1.9s
  13.319 #65 pushing 127.0.0.1:5000/bothplat/x:gunicorn with docker
  13.499 #65 DONE 0.1s
  13.563 (exit)
"""


def test_plain_steps_count_each_step_once_per_run_with_its_done_seconds() -> None:
    found = platform_steps.plain_steps(LOG)
    pillow = found["[layer-pillow] RUN --network=none install pillow"]
    assert (pillow.runs, pillow.seconds) == (1, 3.2)
    # The two platforms' copies are one step run twice.
    copy = found["[gunicorn] COPY --link --from=layer-pillow /layer/ /"]
    assert (copy.runs, round(copy.seconds, 1)) == (2, 0.5)
    assert found["exporting to image"].seconds == 1.9
    assert found["exporting to image: exporting layers"].seconds == 1.7
    assert found["exporting to image: pushing layers"].seconds == 0.1
    assert found["pushing … with docker"].runs == 1
    # Cached steps, metadata loads and context transfers are not work of the build.
    assert not [name for name in found if "internal" in name or "context" in name]
    assert not [name for name in found if "FROM" in name]


def test_phase_marks_are_the_buildx_start_and_the_export() -> None:
    assert platform_steps.phase_marks(LOG) == (0.802, 10.473, 12.405)
    assert platform_steps.phase_marks(LOG.replace("exporting to image\n", "x\n")) is None


def test_engine_cpu_counts_a_process_and_its_descendants() -> None:
    # This test's own process stands for the engine: its CPU time is there and grows.
    before = platform_steps.engine_cpu(os.getpid())
    sum(range(3_000_000))
    assert platform_steps.engine_cpu(os.getpid()) > before
    assert platform_steps.engine_cpu(None) == 0.0
