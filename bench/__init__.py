"""Performance workloads (DESIGN.md §5). Entry point: bench/run."""
