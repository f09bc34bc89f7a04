"""Shared pytest configuration."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing in the tests may reach the Hub
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pytest_terminal_summary(terminalreporter):
    """Print the largest parity differences measured against the original code (quoted in closing notes)."""
    try:
        from tests.test_parity import MAX_DIFFS
    except ImportError:
        try:
            from test_parity import MAX_DIFFS
        except ImportError:
            return
    if MAX_DIFFS:
        terminalreporter.write_sep("-", "max |ours - original| per reference output")
        for name, diff in sorted(MAX_DIFFS.items()):
            terminalreporter.write_line(f"{name:45s} {diff:.3e}")
