"""`python -m shoptune` runs the CLI."""

from shoptune.cli import main

main()
