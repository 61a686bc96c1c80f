"""The phases, one module each (discover, copy, postprocess, compress, integrity,
manifest: the order of engine/phases.py), each with a ``check``, an ``act`` and
its ``PHASE``; beside them the work they share (collect: copies and their
records; signatures; rewriting: hashed files; cleanup: garbage and old versions)."""
