"""Phases made on the engine's derived-phase machinery (engine/derived.py): each
one module, one entry in the phase list (engine/phases.py), one config key."""
