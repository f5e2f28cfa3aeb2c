"""The spec's outcome of a run: Processed (every selected entity fetched and delivered) or
Partially Processed (some data fetched, some not: a part refused or failed, records rejected
for a missing required field, an entity held back). A run that fetched nothing fails."""

from __future__ import annotations

from dataclasses import dataclass, field

PROCESSED = "Processed"
PARTIALLY_PROCESSED = "Partially Processed"


@dataclass
class RunState:
    state: str = PROCESSED
    reasons: list[str] = field(default_factory=list)

    def partial(self, reason: str) -> None:
        self.state = PARTIALLY_PROCESSED
        self.reasons.append(reason)

    @property
    def tag(self) -> str:
        return self.state.lower().replace(" ", "_")


def derive_state(fetch_errors: dict[str, str], rejected: dict[str, int], held_back: dict[str, str]) -> RunState:
    result = RunState()
    for asset, error in sorted(fetch_errors.items()):
        result.partial(f"{asset} not fetched: {error}")
    for entity, count in sorted(rejected.items()):
        if count:
            result.partial(f"{count} {entity} record(s) rejected for a missing required field")
    for entity, reason in sorted(held_back.items()):
        result.partial(f"{entity} not delivered: {reason}")
    return result
