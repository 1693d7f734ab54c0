"""process.run_reading: a command's output handed to a reader that may stop early.

Real commands (the test's own Python), no engine: the reader stops a long stream
early and the command is stopped with it; a command that fails says why; one that
hangs is stopped at its timeout.
"""

from __future__ import annotations

import sys
import time
from typing import IO

import pytest

from containerize import process
from containerize.errors import CommandError

ENDLESS = "import sys\nwhile True:\n    sys.stdout.buffer.write(b'x' * 65536)\n"
HANG_GUARD = 10.0  # seconds: far above what a stop takes; only catches a hang


def first_bytes(stream: IO[bytes]) -> bytes:
    return stream.read(10)


def test_a_reader_that_has_enough_stops_the_command() -> None:
    start = time.monotonic()
    assert process.run_reading([sys.executable, "-c", ENDLESS], first_bytes) == b"x" * 10
    assert time.monotonic() - start < HANG_GUARD


def test_the_whole_output_when_the_reader_reads_it_all() -> None:
    script = "import sys; sys.stdout.write('all of it')"
    assert process.run_reading([sys.executable, "-c", script], lambda s: s.read()) == b"all of it"


def test_a_failing_command_is_an_error_with_its_own_words_before_the_readers() -> None:
    script = "import sys; sys.stderr.write('Error: No such image: app\\n'); sys.exit(1)"

    def strict(stream: IO[bytes]) -> bytes:
        data = stream.read()
        if not data:
            raise ValueError("nothing to read")
        return data

    with pytest.raises(CommandError) as raised:
        process.run_reading([sys.executable, "-c", script], strict)
    assert raised.value.returncode == 1
    assert "Error: No such image: app" in raised.value.output_tail


def test_a_command_that_hangs_is_stopped_at_its_timeout() -> None:
    start = time.monotonic()
    script = "import time; time.sleep(60)"
    with pytest.raises(CommandError, match=r"timed out after 0\.5s"):
        process.run_reading([sys.executable, "-c", script], lambda s: s.read(), timeout=0.5)
    assert time.monotonic() - start < HANG_GUARD
