"""containerize's benchmarks: figures printed, never asserted."""
