"""`shoptune data generate`: instruction examples for a task, written by an LLM and filtered before they are kept.

Pipeline (``runner.run_generation``): seed records (a source adapter's view, or a built task) -> one Jinja prompt
per request -> a backend (an OpenAI-compatible HTTP endpoint, or a local model through ``shoptune.models``) ->
the reply parsed into the instruction schema -> filters (length, language, answer consistency) -> exact and near
duplicates removed -> decontamination against built test splits -> an optional judge -> the first ``target``
examples kept. Every reply is checkpointed as it arrives, so a killed run resumes without paying twice.

The output folder is a task: ``examples.jsonl`` (read by the ``generated`` source adapter), ``task/<name>.yaml``
(pass the folder to ``data build`` as a ``task_dirs`` entry), ``SOURCE.md``, ``report.json`` and ``report.md``.

Modules: ``config`` (the validated YAML), ``seeds``, ``backends``, ``store`` (checkpoints), ``assemble`` (reply ->
record), ``quality`` (filters, dedup, decontamination), ``runner`` and ``report``; ``source`` is the adapter.
Kept free of heavy imports: the source adapter imports this package whenever the source registry loads.
"""
