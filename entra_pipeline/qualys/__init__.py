"""Qualys side: the spec's transformation maps (data), the engine that applies them, and the
destinations (local inventory; Qualys CSAM)."""
