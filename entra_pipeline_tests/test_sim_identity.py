"""The identity platform surface: discovery, v2 and v1 token endpoints, AADSTS errors,
JWT claims, TLS trust through an explicit CA bundle only."""

from __future__ import annotations

import ssl

import httpx
import pytest
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError

from entra_pipeline.simulator.tokens import unverified_claims

from .wire import GRAPH_SCOPE, credential, trust


def _client(sim) -> httpx.Client:
    return httpx.Client(base_url=sim.info.authority_host, verify=trust(sim.info))


def _token_form(sim, **overrides) -> dict:
    form = {
        "client_id": sim.info.client_id,
        "client_secret": sim.info.client_secret,
        "grant_type": "client_credentials",
        "scope": GRAPH_SCOPE,
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def test_openid_configuration_has_what_msal_needs(sim):
    with _client(sim) as client:
        config = client.get(f"/{sim.info.tenant_id}/v2.0/.well-known/openid-configuration").json()
    assert config["token_endpoint"] == f"{sim.info.authority_host}/{sim.info.tenant_id}/oauth2/v2.0/token"
    assert config["authorization_endpoint"].startswith(sim.info.authority_host)
    assert config["issuer"].endswith(f"/{sim.info.tenant_id}/v2.0")


def test_discovery_by_verified_domain_resolves_to_the_tenant_id(sim):
    with _client(sim) as client:
        config = client.get(f"/{sim.info.domain}/v2.0/.well-known/openid-configuration").json()
    assert f"/{sim.info.tenant_id}/" in config["token_endpoint"]


def test_v2_token_is_a_jwt_with_tenant_app_expiry_and_granted_roles(sim):
    with _client(sim) as client:
        response = client.post(f"/{sim.info.tenant_id}/oauth2/v2.0/token", data=_token_form(sim))
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and isinstance(body["expires_in"], int)
    claims = unverified_claims(body["access_token"])
    assert claims["tid"] == sim.info.tenant_id
    assert claims["appid"] == sim.info.client_id
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert set(claims["roles"]) == set(sim.app_registration.granted_permissions)
    assert "scp" not in claims and claims["idtyp"] == "app"


def test_v1_endpoint_takes_resource_and_answers_numbers_as_strings(sim):
    with _client(sim) as client:
        response = client.post(
            f"/{sim.info.tenant_id}/oauth2/token",
            data=_token_form(sim, scope=None, resource="https://graph.microsoft.com"),
        )
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body["expires_in"], str) and isinstance(body["expires_on"], str)
    assert body["resource"] == "https://graph.microsoft.com"
    assert unverified_claims(body["access_token"])["tid"] == sim.info.tenant_id


def test_v2_endpoint_refuses_the_resource_parameter(sim):
    with _client(sim) as client:
        response = client.post(
            f"/{sim.info.tenant_id}/oauth2/v2.0/token", data=_token_form(sim, resource="https://graph.microsoft.com")
        )
    assert response.status_code == 400 and response.json()["error_codes"] == [901002]


def test_scope_without_default_suffix_is_invalid_scope(sim):
    with _client(sim) as client:
        response = client.post(
            f"/{sim.info.tenant_id}/oauth2/v2.0/token",
            data=_token_form(sim, scope="https://graph.microsoft.com/User.Read.All"),
        )
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"


def test_wrong_secret_is_aadsts7000215_invalid_client(sim):
    with _client(sim) as client:
        response = client.post(f"/{sim.info.tenant_id}/oauth2/v2.0/token", data=_token_form(sim, client_secret="nope"))
    body = response.json()
    assert response.status_code == 401 and body["error"] == "invalid_client"
    assert body["error_codes"] == [7000215] and body["error_description"].startswith("AADSTS7000215:")
    assert body["error_uri"].endswith("code=7000215") and "Trace ID:" in body["error_description"]


def test_unknown_application_is_aadsts700016(sim):
    with _client(sim) as client:
        response = client.post(
            f"/{sim.info.tenant_id}/oauth2/v2.0/token",
            data=_token_form(sim, client_id="11111111-2222-3333-4444-555555555555"),
        )
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client" and response.json()["error_codes"] == [700016]


def test_unknown_tenant_is_aadsts90002_at_discovery_and_token(sim):
    with _client(sim) as client:
        discovery = client.get("/not-a-tenant.example/v2.0/.well-known/openid-configuration")
        token = client.post("/not-a-tenant.example/oauth2/v2.0/token", data=_token_form(sim))
    for response in (discovery, token):
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_tenant" and response.json()["error_codes"] == [90002]


def test_expired_secret_is_aadsts7000222(make_sim):
    sim = make_sim(users=20, secret_expires_in_days=1)
    sim.advance_clock(2 * 86400)
    with _client(sim) as client:
        response = client.post(f"/{sim.info.tenant_id}/oauth2/v2.0/token", data=_token_form(sim))
    assert response.status_code == 401 and response.json()["error_codes"] == [7000222]


def test_token_without_any_grant_carries_no_roles_claim(make_sim):
    sim = make_sim(users=20, granted_permissions=())
    with _client(sim) as client:
        token = client.post(f"/{sim.info.tenant_id}/oauth2/v2.0/token", data=_token_form(sim)).json()["access_token"]
    assert "roles" not in unverified_claims(token)


def test_azure_identity_gets_a_token_over_tls_with_the_ca_bundle(sim):
    cred = credential(sim.info)
    token = cred.get_token(GRAPH_SCOPE)
    assert unverified_claims(token.token)["appid"] == sim.info.client_id


def test_azure_identity_surfaces_aadsts_codes(sim):
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        credential(sim.info, secret="wrong-secret").get_token(GRAPH_SCOPE)


def test_untrusted_certificate_is_refused_without_the_ca_bundle(sim):
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{sim.info.authority_host}/{sim.info.tenant_id}/v2.0/.well-known/openid-configuration")
    cred = type(credential(sim.info))(
        sim.info.tenant_id,
        sim.info.client_id,
        sim.info.client_secret,
        authority=sim.info.authority_host,
        disable_instance_discovery=True,
    )
    with pytest.raises((ServiceRequestError, ClientAuthenticationError, ssl.SSLError, ValueError)):
        cred.get_token(GRAPH_SCOPE)


def test_token_lifetime_is_configurable_and_graph_rejects_expired_tokens(make_sim):
    sim = make_sim(users=20, token_lifetime=60)
    with _client(sim) as client:
        token = client.post(f"/{sim.info.tenant_id}/oauth2/v2.0/token", data=_token_form(sim)).json()["access_token"]
        claims = unverified_claims(token)
        assert claims["exp"] - claims["iat"] == 60
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/v1.0/organization", headers=headers).status_code == 200
        sim.expire_tokens()  # the token the client holds expires mid-run
        expired = client.get("/v1.0/organization", headers=headers)
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert "expired" in expired.json()["error"]["message"]


def test_graph_without_a_token_is_401_access_token_is_empty(sim):
    with httpx.Client(base_url=sim.info.graph_endpoint, verify=trust(sim.info)) as client:
        response = client.get("/v1.0/users")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Access token is empty."
