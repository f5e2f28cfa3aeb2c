"""`entra-pipeline simulator serve` from the installed console script."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys

import httpx

from .wire import GRAPH_SCOPE


def _entry_point() -> list[str]:
    script = shutil.which("entra-pipeline")
    return [script] if script else [sys.executable, "-m", "entra_pipeline.cli"]


def test_serve_json_prints_the_facts_first_and_they_work(tmp_path):
    process = subprocess.Popen(
        [
            *_entry_point(),
            "simulator",
            "serve",
            "--port",
            "0",
            "--users",
            "60",
            "--seed",
            "9",
            "--json",
            "--state-dir",
            str(tmp_path),
            "--granted-permissions",
            "User.Read.All,GroupMember.Read.All",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        facts = json.loads(process.stdout.readline())
        assert {"authority_host", "graph_endpoint", "tenant_id", "client_id", "client_secret", "ca_bundle"} <= set(
            facts
        )
        assert facts["ca_bundle"] == str(tmp_path / "ca.pem")
        import ssl

        verify = ssl.create_default_context(cafile=facts["ca_bundle"])
        token = httpx.post(
            f"{facts['authority_host']}/{facts['tenant_id']}/oauth2/v2.0/token",
            verify=verify,
            data={
                "client_id": facts["client_id"],
                "client_secret": facts["client_secret"],
                "grant_type": "client_credentials",
                "scope": GRAPH_SCOPE,
            },
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        users = httpx.get(f"{facts['graph_endpoint']}/v1.0/users?$top=999&$select=id", headers=headers, verify=verify)
        assert len(users.json()["value"]) == 60
        assert (
            httpx.get(f"{facts['graph_endpoint']}/v1.0/applications", headers=headers, verify=verify).status_code == 403
        )
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


def test_serve_human_output_and_bad_arguments(tmp_path):
    bad = subprocess.run(
        [*_entry_point(), "simulator", "serve", "--granted-permissions", "Nope.Read"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "unknown permissions Nope.Read" in bad.stderr
    process = subprocess.Popen(
        [*_entry_point(), "simulator", "serve", "--port", "0", "--users", "30", "--state-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [process.stdout.readline() for _ in range(7)]
        text = "".join(lines)
        for label in ("authority host", "graph endpoint", "tenant id", "client id", "client secret", "CA bundle"):
            assert label in text
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
