"""File-system I/O: atomic copies and writes, the racy-clean clock, worker threads."""
