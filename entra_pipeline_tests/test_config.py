"""connectors.yaml: every invalid value gets an error naming the connector, the field and
what is allowed; secrets are stored only encrypted or by environment reference."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
import yaml

from entra_pipeline.config import (
    CLOUDS,
    ConfigError,
    Connector,
    SecretBox,
    find_connector,
    load_connectors,
    parse_connectors,
)

TENANT = "4a3f2b1c-0d9e-4f8a-b7c6-5d4e3f2a1b0c"
CLIENT = "9c1e8d7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f"


def entry(**overrides) -> dict:
    base = {
        "name": "contoso-prod",
        "description": "Production tenant",
        "tenant_id": TENANT,
        "client_id": CLIENT,
        "client_secret_env": "CONTOSO_SECRET",
        "cloud": "global",
        "asset_types": "identities_only",
        "schedule": {
            "occurs": "recurring",
            "start": "2026-12-01 02:00",
            "end": "2027-12-01 02:00",
            "every": "6h",
            "timezone": "Asia/Calcutta",
        },
        "baseline": "weekly",
        "retain_previous_delta": False,
        "require_manual_sync": False,
        "destination": {"kind": "local"},
    }
    base.update(overrides)
    return base


def error_for(**overrides) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_connectors({"connectors": [entry(**overrides)]})
    return str(caught.value)


def test_the_documented_example_loads():
    [connector] = parse_connectors({"connectors": [entry()]})
    assert (
        connector.schedule.timezone == "Asia/Calcutta" and connector.login_host == "https://login.microsoftonline.com"
    )


def test_duplicate_names_are_refused_naming_both():
    with pytest.raises(ConfigError, match="connector 'contoso_prod': field 'name': duplicate of 'contoso-prod'"):
        parse_connectors({"connectors": [entry(), entry(name="contoso_prod")]})


def test_description_of_181_characters():
    message = error_for(description="x" * 181)
    assert "connector 'contoso-prod': field 'description': at most 180 characters (got 181)" in message


def test_unknown_timezone():
    message = error_for(schedule={**entry()["schedule"], "timezone": "Mars/Olympus"})
    assert "field 'schedule.timezone'" in message and "unknown timezone 'Mars/Olympus'" in message


def test_end_before_start():
    message = error_for(schedule={**entry()["schedule"], "end": "2026-11-30 02:00"})
    assert "end 2026-11-30 02:00 is not after start 2026-12-01 02:00" in message


def test_unknown_cloud_lists_the_allowed_ones():
    message = error_for(cloud="mars")
    assert "field 'cloud': got 'mars'; allowed:" in message and "usgov-dod" in message


def test_malformed_tenant_id():
    assert "neither a directory (tenant) id GUID nor a verified domain" in error_for(tenant_id="not a tenant")
    [connector] = parse_connectors({"connectors": [entry(tenant_id="Contoso.onmicrosoft.com")]})
    assert connector.tenant_id == "contoso.onmicrosoft.com"


def test_plain_text_secret_is_refused_with_how_to_encrypt():
    message = error_for(client_secret_env=None, client_secret="hunter2")
    assert "plain-text secret is not accepted" in message and "entra-pipeline connector add" in message
    assert "hunter2" not in message


def test_exactly_one_secret_source():
    assert "exactly one of client_secret" in error_for(client_secret_env=None)


def test_http_endpoints_are_refused_tls_is_required():
    assert "must be an https:// origin" in error_for(graph_endpoint="http://127.0.0.1:8443")


def test_unknown_fields_and_recurring_without_interval():
    assert "field 'colour': unknown field" in error_for(colour="blue")
    message = error_for(
        schedule={"occurs": "recurring", "start": "2026-12-01 02:00", "end": "2027-01-01 00:00", "timezone": "UTC"}
    )
    assert "exactly one of every" in message


def test_several_problems_are_reported_together():
    message = error_for(description="x" * 181, cloud="mars", client_id="nope")
    assert message.count("connector 'contoso-prod'") == 3


@pytest.mark.parametrize("cloud", sorted(CLOUDS))
def test_national_clouds_resolve_to_their_login_and_graph_hosts(cloud):
    [connector] = parse_connectors({"connectors": [entry(cloud=cloud)]})
    assert (connector.login_host, connector.graph_host) == CLOUDS[cloud]
    assert connector.graph_scope == f"{CLOUDS[cloud][1]}/.default"
    assert CLOUDS["usgov-dod"] == ("https://login.microsoftonline.us", "https://dod-graph.microsoft.us")
    assert CLOUDS["china"][0] == "https://login.chinacloudapi.cn"


def test_secret_encryption_roundtrip_and_owner_only_key_file(home):
    box = SecretBox(home)
    stored = box.encrypt("s3cr3t-value")
    assert stored.startswith("enc:") and "s3cr3t-value" not in stored
    assert box.decrypt(stored).get_secret_value() == "s3cr3t-value"
    assert stat.S_IMODE(os.stat(home / "secret.key").st_mode) == 0o600


def test_secret_key_from_the_environment(home, monkeypatch):
    from cryptography.fernet import Fernet

    monkeypatch.setenv("ENTRA_PIPELINE_KEY", Fernet.generate_key().decode())
    stored = SecretBox(home).encrypt("abc")
    assert not (home / "secret.key").exists()
    monkeypatch.setenv("ENTRA_PIPELINE_KEY", Fernet.generate_key().decode())
    connector = Connector(**{**entry(), "client_secret_env": None, "client_secret": stored})
    with pytest.raises(ConfigError, match="cannot be decrypted with this key"):
        connector.secret(home)


def test_secret_key_from_a_mounted_key_file(home, tmp_path, monkeypatch):
    """A worker given a reference to the key (a mounted Kubernetes or Key Vault secret), not the key."""
    from cryptography.fernet import Fernet

    from entra_pipeline import redact

    key = Fernet.generate_key()
    mounted = tmp_path / "mounted" / "key"
    mounted.parent.mkdir()
    mounted.write_bytes(key + b"\n")
    monkeypatch.setenv("ENTRA_PIPELINE_KEY_FILE", str(mounted))
    stored = SecretBox(home).encrypt("from-a-mounted-key")
    assert not (home / "secret.key").exists(), "no key of its own is made in the home"
    assert Fernet(key).decrypt(stored[len("enc:") :].encode()) == b"from-a-mounted-key"
    assert key.decode() not in redact.mask(f"key {key.decode()}"), "the key is masked like any secret"
    monkeypatch.setenv("ENTRA_PIPELINE_KEY_FILE", str(tmp_path / "not-mounted"))
    with pytest.raises(ConfigError, match="ENTRA_PIPELINE_KEY_FILE=.*not-mounted: the key file cannot be read"):
        SecretBox(home).decrypt(stored)
    assert not (home / "secret.key").exists()


def test_secret_from_environment_variable(home, monkeypatch):
    [connector] = parse_connectors({"connectors": [entry()]})
    with pytest.raises(ConfigError, match="CONTOSO_SECRET"):
        connector.secret(home)
    monkeypatch.setenv("CONTOSO_SECRET", "from-env")
    assert connector.secret(home).get_secret_value() == "from-env"


def test_connector_add_from_flags_encrypts_and_refuses_bad_values(home):
    command = [
        sys.executable,
        "-m",
        "entra_pipeline.cli",
        "connector",
        "add",
        "--home",
        str(home),
        "--name",
        "contoso-prod",
        "--tenant-id",
        TENANT,
        "--client-id",
        CLIENT,
        "--client-secret-stdin",
        "--description",
        "Production tenant",
    ]
    added = subprocess.run(command, input="very-secret-value\n", capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    text = (home / "connectors.yaml").read_text()
    assert "very-secret-value" not in text and "client_secret: enc:" in text
    assert find_connector(home, "contoso-prod").secret(home).get_secret_value() == "very-secret-value"
    duplicate = subprocess.run(command, input="x\n", capture_output=True, text=True, timeout=60)
    assert duplicate.returncode == 2 and "duplicate of 'contoso-prod'" in duplicate.stderr
    bad = subprocess.run(
        [*command[:8], "other", *command[9:12], "nope", *command[13:]],
        input="x\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "connector 'other': field 'client_id'" in bad.stderr


def test_invalid_yaml_and_unknown_connector_name(home):
    (home / "connectors.yaml").write_text("connectors: [ {name: a\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_connectors(home)
    (home / "connectors.yaml").write_text(yaml.safe_dump({"connectors": [entry()]}))
    with pytest.raises(ConfigError, match="no connector named 'nope'.*configured: contoso-prod"):
        find_connector(home, "nope")
