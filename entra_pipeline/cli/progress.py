"""Progress on a terminal: one line, redrawn as Graph pages and upload batches arrive, with the
log messages printed above it; without a terminal, the messages as plain lines and no line."""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import TextIO


class LiveLine(logging.Handler):
    """Reads `extra={"progress": (phase, what, items)}` from DEBUG records (client.pages, the
    Qualys batches) and prints INFO and above as `  .. message`."""

    def __init__(self, stream: TextIO, live: bool) -> None:
        super().__init__(logging.DEBUG)
        self.stream, self.live = stream, live
        self.pages: Counter[tuple[str, str]] = Counter()  # (phase, what) -> pages
        self.items: Counter[tuple[str, str]] = Counter()
        self._drawn = 0.0
        self._width = 0

    def emit(self, record: logging.LogRecord) -> None:
        progress = getattr(record, "progress", None)
        if progress is not None:
            if self.live:
                phase, what, items = progress
                self.pages[(phase, what)] += 1
                self.items[(phase, what)] += items
                if time.monotonic() - self._drawn > 0.1:  # redraws at most ten times a second
                    self._draw()
            return
        if record.levelno < logging.INFO:
            return
        self._clear()
        self.stream.write(f"  .. {record.getMessage()}\n")
        if self.live and self.pages:
            self._draw()
        self.stream.flush()

    def line(self) -> str:
        pulled = [(what, n) for (phase, what), n in self.items.items() if phase == "pull"]
        uploaded = [(what, n) for (phase, what), n in self.items.items() if phase == "upload"]
        pages = sum(n for (phase, _), n in self.pages.items() if phase == "pull")
        text = f"  >> {pages} pages, {sum(n for _, n in pulled):,} items"
        if pulled:
            busiest = max(pulled, key=lambda entry: entry[1])
            text += f" (most from {busiest[0]}: {busiest[1]:,})"
        if uploaded:
            batches = sum(n for (phase, _), n in self.pages.items() if phase == "upload")
            text += f"; uploaded {batches} batches, {sum(n for _, n in uploaded):,} records"
        return text

    def finish(self) -> None:
        """Clear the line before a summary is printed."""
        self._clear()
        self.stream.flush()

    def _draw(self) -> None:
        text = self.line()
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._width, self._drawn = len(text), time.monotonic()

    def _clear(self) -> None:
        if self.live and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self._width = 0
