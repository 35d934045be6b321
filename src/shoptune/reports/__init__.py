"""Reports: Markdown summaries and plots of runs, for people who would rather look than read."""
