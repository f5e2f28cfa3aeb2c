"""The credential: a client secret that can read a whole directory is never written or shown
in plain text; the files that hold secrets or identities are owner-only; TLS verification
cannot be configured away."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from entra_pipeline.config import ConfigError, parse_connectors
from entra_pipeline.graph.connection_test import check_tls

from .conftest import connector_for
from .helpers import cli, flags, scan

pytestmark = pytest.mark.slow  # whole syncs end to end: ./dev test --quick leaves them out


def test_the_client_secret_is_nowhere_in_plain_text(make_sim, home):
    sim = make_sim(users=60, seed=31)
    secret, wrong = sim.info.client_secret, "wrong-secret-Zq81!x"
    where = flags(sim)
    said = [
        cli(
            home,
            "connector",
            "create",
            "--no-input",
            "--yes",
            "--name",
            "leak",
            *where,
            "--require-manual-sync",
            "--client-secret-stdin",
            stdin=secret + "\n",
        ),
        cli(home, "test-connection", "--connector", "leak"),
        cli(home, "sync", "--connector", "leak"),
        cli(home, "sync", "--connector", "leak"),
        cli(home, "sync", "--connector", "leak", "--full"),
        cli(home, "status"),
        cli(home, "status", "--json"),
        cli(home, "logs", "leak"),
        cli(home, "logs", "leak", "--runs", "5", "--debug"),
        cli(home, "connector", "show", "leak"),
        cli(home, "connector", "list"),
        cli(home, "inventory", "export", "--connector", "leak", "--entity", "users"),
        # a wrong secret fails Test Connection: neither it nor the right one is echoed
        cli(home, "connector", "rotate-secret", "leak", "--client-secret-stdin", stdin=wrong + "\n"),
    ]
    assert [r.returncode for r in said] == [0] * 12 + [2], [r.stderr for r in said if r.returncode]
    assert "AADSTS7000215" in said[-1].stdout
    printed = "".join(r.stdout + r.stderr for r in said)
    assert secret not in printed and wrong not in printed
    files, size, found = scan(home, [secret.encode(), wrong.encode()])
    assert found == [], found
    # what was scanned: the key, connectors.yaml, raw Parquet, records, the store (state, ledgers,
    # the local inventory) and Dagster's run and event-log storage with every run's log lines
    assert files >= 30 and (home / "dagster").exists() and (home / "store.sqlite").exists()
    assert any(p.suffix == ".parquet" for p in home.rglob("*"))
    print(f"secret scan: {files} files, {size:,} bytes, {len(said)} command outputs, 0 secrets found")


def owner_only(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def test_everything_written_is_owner_only(make_sim, home):
    """Personal data sits in Parquet files, the store and Dagster's logs: none is readable by
    other local users, and no folder lets them in (even with a permissive umask at start)."""
    sim = make_sim(users=20, seed=32)
    connector = connector_for(sim, home)
    home.chmod(0o700)
    assert cli(home, "sync", "--connector", connector.name).returncode == 0
    assert cli(home, "sync", "--connector", connector.name).returncode == 0
    assert cli(home, "test-connection", "--connector", connector.name).returncode == 0
    written = [path for path in home.rglob("*")]
    assert any(p.suffix == ".parquet" for p in written) and (home / "store.sqlite").exists()
    assert any("compute_logs" in str(p) or "storage" in str(p) for p in written)
    exposed = [f"{p} {oct(stat.S_IMODE(p.stat().st_mode))}" for p in written if not owner_only(p)]
    assert exposed == [], exposed


def test_unsafe_permissions_are_warned_about(make_sim, home):
    sim = make_sim(users=10, seed=34)
    connector = connector_for(sim, home)
    home.chmod(0o777)
    (home / "secret.key").chmod(0o644)
    said = cli(home, "status")
    assert said.returncode == 0
    assert (
        f"the home folder {home} is readable and writable by other users (mode 777): run `chmod 700 {home}`"
        in said.stderr
    )
    assert f"the encryption key {home / 'secret.key'} is readable by other users (mode 644)" in said.stderr
    home.chmod(0o700)
    (home / "secret.key").chmod(0o600)
    assert "warning" not in cli(home, "test-connection", "--connector", connector.name).stderr


def test_tls_verification_cannot_be_configured_away(make_sim, home):
    base = {
        "name": "t",
        "tenant_id": "contoso.onmicrosoft.com",
        "client_id": "00000000-0000-0000-0000-000000000001",
        "client_secret_env": "SECRET",
    }
    for hostile in ({"verify": False}, {"verify_tls": False}, {"insecure": True}, {"tls": {"verify": False}}):
        with pytest.raises(ConfigError, match="unknown field"):
            parse_connectors({"connectors": [{**base, **hostile}]})
    with pytest.raises(ConfigError, match="must be an https:// origin"):
        parse_connectors({"connectors": [{**base, "graph_endpoint": "http://127.0.0.1:8443"}]})
    # Without the simulator's CA the handshake is refused: trust is only ever added, by ca_bundle.
    sim = make_sim(users=5, seed=33)
    untrusted = connector_for(sim, home, save=False, ca_bundle=None)
    result = check_tls(untrusted)
    assert not result.passed and "certificate not trusted" in result.detail


def test_the_redactor_masks_remembered_secrets_in_every_encoding_and_credential_shapes_only():
    from entra_pipeline import redact

    redact.remember("Zq8~rEdact!x")
    text = (
        "form client_secret=abc&cs=Zq8%7ErEdact%21x q=Zq8~rEdact%21x raw Zq8~rEdact!x "
        "Authorization: Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.e30.sig "
        '{"password": "hunter22"} Basic authentication failed for user ada'
    )
    masked = redact.mask(text)
    assert "rEdact" not in masked and "hunter22" not in masked and "eyJ0eXAi" not in masked, masked
    assert "client_secret=********" in masked and "Basic authentication failed for user ada" in masked, masked
