"""What several test modules share: the inventory the simulator's truth must produce, tenant
changes, a scan of files for secrets, and the command line as an operator runs it (with the
pause points killpoints.py offers). Test modules import from here, never from each other."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from entra_pipeline.destinations.local import LocalInventory
from entra_pipeline.store import open_store
from entra_pipeline.transform.engine import apply
from entra_pipeline.transform.maps import MAPS
from entra_pipeline.transform.sources import user_and_group_sources


# ------------------------------------------------------------------ the truth, through the maps
def truth_memberships(truth: dict) -> list[dict]:
    """Every membership of the simulator's truth, as rows of the memberships table."""
    return [
        {"container_id": c, "container_type": kind, "member_id": m["id"], "member_type": m["kind"]}
        for kind, table in (
            ("group", "groupMembers"),
            ("directoryRole", "directoryRoleMembers"),
            ("administrativeUnit", "administrativeUnitMembers"),
        )
        for c, members in truth[table].items()
        for m in members
    ]


def expected_records(truth: dict, asset_types_posture: bool = True) -> dict[str, dict[str, dict]]:
    """The truth, through the same sources and maps: what the inventory must hold."""
    memberships = truth_memberships(truth)
    users, groups = user_and_group_sources(
        truth["users"],
        truth["groups"],
        truth["directoryRoles"],
        truth["administrativeUnits"],
        memberships,
        truth["appRoleAssignments"],
    )
    sources = {"users": users, "groups": groups, "roles": truth["roleDefinitions"]}
    if asset_types_posture:
        sources.update(
            applications=truth["applications"],
            servicePrincipals=truth["servicePrincipals"],
            tenant=truth["organization"],
        )
    return {
        entity: {o.vendor_asset_id: o.record for o in (apply(MAPS[entity], d) for d in docs)}
        for entity, docs in sources.items()
    }


def record_id(entity: str, record: dict) -> str:
    if "thirdPartyObject" in record:
        return record["thirdPartyObject"]["content"]["id"]
    return record["asset"]["assetHeader"]["vendorAssetId"]


def assert_inventory_is_the_truth(sim, home, connector) -> None:
    inventory = LocalInventory(open_store(home))
    for entity, expected in expected_records(sim.truth()).items():
        stored = {record_id(entity, r): r for r in inventory.export(connector.name, entity)}
        assert stored.keys() == expected.keys(), entity
        wrong = [k for k in expected if stored[k] != json.loads(json.dumps(expected[k]))]
        assert wrong == [], (
            entity,
            wrong[0],
            differences(stored[wrong[0]], json.loads(json.dumps(expected[wrong[0]]))),
        )


def differences(got, want, path: str = "") -> list[str]:
    if isinstance(got, dict) and isinstance(want, dict):
        return [d for k in sorted(set(got) | set(want)) for d in differences(got.get(k), want.get(k), f"{path}.{k}")]
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        return [d for i, (g, w) in enumerate(zip(got, want, strict=True)) for d in differences(g, w, f"{path}[{i}]")]
    return [] if got == want else [f"{path}: got {got!r}, want {want!r}"]


def inventory_snapshot(home, connector, entity: str) -> list[str]:
    return sorted(
        json.dumps(r, sort_keys=True) for r in LocalInventory(open_store(home)).export(connector.name, entity)
    )


def changes(sim) -> None:
    """One change of each kind a delta round carries: a new user in a group, an update, a hard
    deletion and a removed membership."""
    t = sim.tenant
    users, groups = list(t.users), list(t.groups)
    newcomer = t.create_user(displayName="Fault Newcomer")
    t.add_member(groups[1], newcomer["id"])
    t.update_user(users[3], department="Under fire")
    t.hard_delete(users[4])
    t.remove_member(groups[2], next(iter(t.live_members(groups[2]))))


# ------------------------------------------------------------------ files
def scan(root: Path, needles: list[bytes]) -> tuple[int, int, list[str]]:
    """(files, bytes, where any needle was found) under root."""
    files = size = 0
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            files, size = files + 1, size + len(data)
            found += [f"{path} holds {needle[:6]!r}..." for needle in needles if needle in data]
    return files, size, found


# ------------------------------------------------------------------ the command line
def start_cli(home: Path, *args: str, env: dict | None = None, **popen) -> subprocess.Popen:
    """The command started, its output (stdout and stderr) read by `finished`."""
    return subprocess.Popen(
        [sys.executable, "-m", "entra_pipeline.cli", *args, "--home", str(home)],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **popen,
    )


def finished(process: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    out, _ = process.communicate(timeout=timeout)
    return process.returncode, out


def paused_at(point: str, folder: Path) -> dict:
    """The environment that makes a run stop at a named point (killpoints.py) until `release`."""
    return {"ENTRA_PIPELINE_PAUSE_AT": f"{point}={folder}"}


def wait_reached(point: str, folder: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    flag = folder / f"{point.replace(':', '_')}.reached"
    deadline = time.monotonic() + timeout
    while not flag.exists():
        assert process.poll() is None, f"the run ended before {point}: {process.communicate()[0][-3000:]}"
        assert time.monotonic() < deadline, f"{point} not reached"
        time.sleep(0.05)


def release(point: str, folder: Path) -> None:
    (folder / f"{point.replace(':', '_')}.go").write_text("")


class Script:
    """A console answering from a list, like a person at the prompts (secrets recorded hidden)."""

    interactive = True

    def __init__(self, answers: list[str]) -> None:
        self.answers, self.transcript = list(answers), []

    def ask(self, prompt: str, secret: bool = False) -> str:
        answer = self.answers.pop(0)
        self.transcript.append(prompt + ("<hidden>" if secret else answer))
        return answer

    def say(self, text: str) -> None:
        self.transcript.append(text)

    def text(self) -> str:
        return "\n".join(self.transcript)


def cli(
    home: Path, *args: str, stdin: str | None = None, env: dict | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """`entra-pipeline ARGS --home HOME`, as an operator runs it, to its end."""
    return subprocess.run(
        [sys.executable, "-m", "entra_pipeline.cli", *args, "--home", str(home)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def flags(sim) -> list[str]:
    """The connectivity flags that point a connector at `sim`."""
    info = sim.info
    return [
        "--tenant-id",
        info.tenant_id,
        "--client-id",
        info.client_id,
        "--authority-host",
        info.authority_host,
        "--graph-endpoint",
        info.graph_endpoint,
        "--ca-bundle",
        str(info.ca_bundle),
    ]
