"""vaedesk's benchmarks: figures, printed, never asserted. Each speed is shown beside a
baseline measured in the same run, so a noisy shared machine shows up in both.

The program never imports this folder (an import-linter contract says so). Run it from
the repository's root: `python -m tests.benchmarks --help`; docs/benchmarks.md says what
each figure means.
"""
