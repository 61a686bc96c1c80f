"""The incremental engine: one run of the phases, whoever drives it (doit, the watcher, Django)."""
