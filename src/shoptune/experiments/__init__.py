"""Experiments: the studies' comparisons as functions that write tables (JSON + Markdown)."""
