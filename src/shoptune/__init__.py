"""shoptune: multi-task adaptation of language models to e-commerce."""

__version__ = "0.1.0"
