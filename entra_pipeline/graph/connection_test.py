"""Test Connection: the spec's five checks, in order. A failed check names exactly what is
wrong and gives the spec's Troubleshooting resolution; the checks after it are not run."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..config import ConfigError, Connector
from ..entities import Requirement, requirements_for
from .auth import TokenEndpointError, TokenSource, tls_context, unreachable_cause
from .client import ClientSettings, GraphClient, GraphError

CHECKS = (
    "Network Reachability",
    "TLS Handshake",
    "Authentication Credential Check",
    "Authorization Scope Check",
    "Data Fetch",
)

# The spec's Troubleshooting table (and, where it has no row, ours).
RESOLUTIONS = {
    "Network Reachability": "Confirm that outbound HTTPS traffic to login.microsoftonline.com and graph.microsoft.com "
    "is not blocked by a firewall or proxy in your environment.",
    "TLS Handshake": "The endpoint's certificate is not trusted. If a proxy inspects TLS, set ca_bundle to its CA "
    "certificate; verification itself cannot be turned off.",
    "Authentication Credential Check": "Verify that the Tenant ID, Client ID, and Client Secret values entered match "
    "those of your registered Azure AD application exactly. Ensure the Client Secret "
    "has not expired. Generate a new secret if needed and update the connector.",
    "Client Secret expired": "Generate a new Client Secret in Azure AD under Certificates & secrets. Update the Client "
    "Secret field in the connector's Profile & Connectivity settings and run Test Connection "
    "to confirm the new credentials are valid.",
    "Authorization Scope Check": "Confirm that all required API permissions (GroupMember.Read.All, User.Read.All, "
    "RoleManagement.Read.Directory, Directory.Read.All) have been granted and that an "
    "Azure AD administrator has provided admin consent.",
    "Data Fetch": "Graph answered the checks above but not a data request: open the connector's logs for the error "
    "Graph returned, and retry later if it was a transient service error.",
}
AADSTS_MEANINGS = {
    "AADSTS7000215": "the client secret is wrong (use the secret's Value, not its ID)",
    "AADSTS7000222": "the client secret has expired",
    "AADSTS700016": "no application with this Client ID exists in the tenant",
    "AADSTS90002": "the tenant was not found (check the Tenant ID and the cloud)",
    "AADSTS7000218": "no client secret was sent",
}


@dataclass
class CheckResult:
    name: str
    passed: bool
    detail: str
    remedy: str = ""

    def line(self) -> str:
        text = f"{'PASS' if self.passed else 'FAIL'}  {self.name}: {self.detail}"
        return text if self.passed or not self.remedy else f"{text}\n      Resolution: {self.remedy}"


def _endpoints(connector: Connector) -> list[tuple[str, str, int]]:
    seen, result = set(), []
    for label, url in (("login", connector.login_host), ("graph", connector.graph_host)):
        parts = urlsplit(url)
        key = (parts.hostname, parts.port or 443)
        if key not in seen:
            seen.add(key)
            result.append((label, parts.hostname or "", parts.port or 443))
    return result


def check_network(connector: Connector, timeout: float = 10.0) -> CheckResult:
    reached = []
    for label, host, port in _endpoints(connector):
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError as error:
            cause = unreachable_cause(error) or error.strerror or "no connection"
            return CheckResult(
                CHECKS[0], False, f"cannot open HTTPS ({port}) to {label} host {host}: {cause}", RESOLUTIONS[CHECKS[0]]
            )
        reached.append(f"{host}:{port}")
    return CheckResult(CHECKS[0], True, "reached " + " and ".join(reached))


def check_tls(connector: Connector, timeout: float = 10.0) -> CheckResult:
    context = tls_context(connector)
    for label, host, port in _endpoints(connector):
        try:
            with socket.create_connection((host, port), timeout=timeout) as raw:
                with context.wrap_socket(raw, server_hostname=host) as tls:
                    version = tls.version()
        except ssl.SSLCertVerificationError as error:
            return CheckResult(
                CHECKS[1],
                False,
                f"{label} host {host}: certificate not trusted ({error.verify_message})",
                RESOLUTIONS[CHECKS[1]],
            )
        except (ssl.SSLError, OSError) as error:
            cause = unreachable_cause(error) or getattr(error, "reason", None) or error.strerror or "protocol error"
            return CheckResult(
                CHECKS[1], False, f"{label} host {host}: TLS handshake failed ({cause})", RESOLUTIONS[CHECKS[1]]
            )
    return CheckResult(CHECKS[1], True, f"verified certificates ({version})")


def _claims(token: str) -> dict:
    """The token's claims, read only to tell the user which permissions it carries."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def check_authentication(connector: Connector, tokens: TokenSource) -> tuple[CheckResult, str | None]:
    """A token from the identity platform: the one the later checks' requests then carry."""
    try:
        # As the client's requests ask for it (kiota's provider enables CAE), so the credential's
        # cache hands the same token to the later checks instead of issuing a second one.
        token = (await tokens.get_token(connector.graph_scope, enable_cae=True)).token
    except TokenEndpointError as error:
        text = str(error)
        code = next((c for c in AADSTS_MEANINGS if c + ":" in text or c + " " in text), None)
        if code is None and "authority configuration" in text:
            code = "AADSTS90002"
        meaning = AADSTS_MEANINGS.get(code, text)
        remedy = RESOLUTIONS["Client Secret expired" if code == "AADSTS7000222" else CHECKS[2]]
        return CheckResult(CHECKS[2], False, f"{code + ': ' if code else ''}{meaning}", remedy), None
    return CheckResult(CHECKS[2], True, f"token issued for application {connector.client_id}"), token


async def check_scope(connector: Connector, client: GraphClient, token: str) -> CheckResult:
    requirements = requirements_for(connector.asset_types)
    roles = _claims(token).get("roles")
    if roles is None:  # no roles claim: nothing consented, or an opaque token; ask Graph itself
        missing = await _probe(client, requirements)
        basis = "probing each endpoint (the token lists no permissions)"
    else:
        missing = [r for r in requirements if not r.met_by(set(roles))]
        basis = "the token's permissions"
    if not missing:
        return CheckResult(CHECKS[3], True, f"every required permission is granted ({basis})")
    names = sorted({r.any_of[0] for r in missing})
    reads = "; ".join(f"{r.entity}: {r.reads} needs {r.any_of[0]}" for r in missing)
    return CheckResult(CHECKS[3], False, f"not granted: {', '.join(names)} ({reads})", RESOLUTIONS[CHECKS[3]])


async def _probe(client: GraphClient, requirements: tuple[Requirement, ...]) -> list[Requirement]:
    missing = []
    for requirement in requirements:
        try:
            await client.get(requirement.probe)
        except GraphError as error:
            if error.status == 403:
                missing.append(requirement)
    return missing


async def check_data_fetch(client: GraphClient) -> CheckResult:
    try:
        page = await client.get("/users?$top=1&$select=id,userPrincipalName")
    except GraphError as error:
        return CheckResult(CHECKS[4], False, f"GET /users answered {error}", RESOLUTIONS[CHECKS[4]])
    return CheckResult(CHECKS[4], True, f"read {len(page.get('value', []))} user(s) from Graph")


async def _graph_checks(connector: Connector, home: Path) -> list[CheckResult]:
    """Checks 3 to 5 on one client: one token, one connection pool, one event loop."""
    try:
        secret = connector.secret(home)
    except ConfigError as error:
        return [CheckResult(CHECKS[2], False, str(error), RESOLUTIONS[CHECKS[2]])]
    async with GraphClient(connector, secret, ClientSettings(max_attempts=3)) as client:
        result, token = await check_authentication(connector, client.tokens)
        results = [result]
        if token:
            results.append(await check_scope(connector, client, token))
        if results[-1].passed:
            results.append(await check_data_fetch(client))
        return results


def run_checks(connector: Connector, home: Path) -> list[CheckResult]:
    results = [check_network(connector)]
    if results[-1].passed:
        results.append(check_tls(connector))
    if results[-1].passed:
        results += asyncio.run(_graph_checks(connector, home))
    for name in CHECKS[len(results) :]:
        results.append(CheckResult(name, False, "not run: an earlier check failed"))
    return results
