"""Task data: source adapters (`sources`), the build into Parquet splits (`build`), and LLM-written task data
(`generate`). Import the submodules directly; this package imports nothing on its own."""
