"""Evaluation harness: answer parsing (`parsing`), metrics and their registry (`metrics`), statistics
(`statistics`: bootstrap intervals, paired contrasts, McNemar). Import the submodules directly; this package
imports nothing heavy on its own."""
