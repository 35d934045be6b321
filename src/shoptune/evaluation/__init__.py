"""Evaluation harness: answer parsing (`parsing`), metrics and their registry (`metrics`), bootstrap intervals
(`bootstrap`). Import the submodules directly; this package imports nothing heavy on its own."""
