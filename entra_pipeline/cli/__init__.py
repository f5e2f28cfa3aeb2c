"""The operator's commands: `entra-pipeline` (commands.py), the connector wizard and its
commands, the store's commands, and what they print (reports, progress, terminal-safe text)."""

from .commands import main

__all__ = ["main"]
