"""Entra objects to Qualys records: the spec's transformation maps as data (maps.py), the one
engine that applies them, the source documents the maps read, and the record sets of a run."""
