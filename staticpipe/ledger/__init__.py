"""The ledger: all state in one SQLite database (tables, entries, tokens), the stamp,
the lock."""
