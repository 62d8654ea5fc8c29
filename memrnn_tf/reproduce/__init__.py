"""One-command reproduction of the paper: stages, pipeline and report."""
