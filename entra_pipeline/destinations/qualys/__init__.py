"""Qualys CSAM: the import envelope and the gateway client with per-batch progress."""
