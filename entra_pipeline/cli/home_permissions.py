"""Who else can read what the connector keeps: the home folder, connectors.yaml and the key."""

from __future__ import annotations

import stat
from pathlib import Path

from ..config import CONNECTORS_FILE, KEY_FILE


def unsafe_permissions(home: Path) -> list[str]:
    """One warning per file or folder that other local users may read or change."""
    warnings = []
    for path, what in (
        (home, "the home folder"),
        (home / CONNECTORS_FILE, CONNECTORS_FILE),
        (home / KEY_FILE, "the encryption key"),
    ):
        try:
            mode = path.stat().st_mode
        except OSError:
            continue
        others = stat.S_IMODE(mode) & (0o077 if path != home else 0o027)
        if others:
            kind = ("readable" if others & 0o044 else "") + (" and " if others & 0o044 and others & 0o022 else "") + (
                "writable" if others & 0o022 else ""
            ) or "accessible"
            warnings.append(
                f"{what} {path} is {kind} by other users (mode {stat.S_IMODE(mode):o}): "
                f"run `chmod {'700' if path == home else '600'} {path}`"
            )
    return warnings
