"""The Microsoft identity platform's client-credentials surface: OpenID discovery, the v2
token endpoint (scope=<resource>/.default), the legacy v1 endpoint (resource=<uri>) the
spec names, the signing keys, and AADSTS error bodies as Entra sends them."""

from __future__ import annotations

import base64
import datetime as dt
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

from . import catalog
from .tokens import TokenSigner


@dataclass
class Application:
    """An app registration that can sign in with client credentials."""

    client_id: str
    secret: str
    secret_expires: dt.datetime
    granted_permissions: tuple[str, ...]
    object_id: str = field(default_factory=lambda: str(uuid.uuid4()))  # its service principal


@dataclass
class IdentityResponse:
    status: int
    body: dict


def _aadsts(status: int, error: str, code: int, description: str) -> IdentityResponse:
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    timestamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return IdentityResponse(
        status,
        {
            "error": error,
            "error_description": f"AADSTS{code}: {description}\r\nTrace ID: {trace}\r\n"
            f"Correlation ID: {correlation}\r\nTimestamp: {timestamp}",
            "error_codes": [code],
            "timestamp": timestamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"https://login.microsoftonline.com/error?code={code}",
        },
    )


def server_error() -> IdentityResponse:
    """Entra's answer when token issuance fails on its side: `server_error` ("The server encountered
    an unexpected error", reference-error-codes.md) with AADSTS50000 TokenIssuanceError, in the
    usual AADSTS body. The pairing with HTTP 500 is inferred, not documented."""
    return _aadsts(
        500, "server_error", 50000, "There was an error issuing a token or an issue with our sign-in service."
    )


class IdentityPlatform:
    def __init__(
        self,
        tenant_id: str,
        domains: tuple[str, ...],
        signer: TokenSigner,
        clock: Callable[[], dt.datetime],
        graph_resources: tuple[str, ...],
        token_lifetime: int = 3599,
    ) -> None:
        self.tenant_id = tenant_id
        self.domains = tuple(d.lower() for d in domains)
        self.signer = signer
        self.clock = clock
        self.graph_resources = graph_resources  # accepted audiences, first is the canonical one
        self.token_lifetime = token_lifetime
        self.applications: dict[str, Application] = {}
        self.tokens_issued = 0

    def register(self, app: Application) -> None:
        self.applications[app.client_id] = app

    def knows_tenant(self, tenant: str) -> bool:
        return tenant.lower() in (self.tenant_id, *self.domains)

    # ---------------------------------------------------------------- discovery
    def openid_configuration(self, authority: str, tenant: str) -> IdentityResponse:
        if not self.knows_tenant(tenant):
            return self._unknown_tenant(tenant)
        base = f"{authority}/{self.tenant_id}"
        return IdentityResponse(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{authority}/{self.tenant_id}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{authority}/{self.tenant_id}/v2.0",
                "request_uri_parameter_supported": False,
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "tenant_region_scope": "NA",
                "cloud_instance_name": "microsoftonline.com",
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com",
            },
        )

    def _unknown_tenant(self, tenant: str) -> IdentityResponse:
        return _aadsts(
            400,
            "invalid_tenant",
            90002,
            f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
            "signing into the correct cloud. Check with your subscription administrator, this may "
            "happen if there are no active subscriptions for the tenant.",
        )

    # ---------------------------------------------------------------- token
    def token(
        self, authority: str, tenant: str, form_body: bytes, authorization: str | None, version: int
    ) -> IdentityResponse:
        form = dict(parse_qsl(form_body.decode("utf-8", "replace"), keep_blank_values=True))
        if authorization and authorization.lower().startswith("basic "):
            user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
            form.setdefault("client_id", unquote(user))
            form.setdefault("client_secret", unquote(password))
        if not self.knows_tenant(tenant):
            return self._unknown_tenant(tenant)
        if form.get("grant_type") != "client_credentials":
            return _aadsts(
                400,
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type. This simulator serves client_credentials.",
            )
        resource, failure = self._resource(form, version)
        if failure:
            return failure
        client_id = form.get("client_id", "")
        app = self.applications.get(client_id)
        if app is None:
            return _aadsts(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{tenant}'. This can happen if the application has not been installed by the "
                "administrator of the tenant or consented to by any user in the tenant. You may have "
                "sent your authentication request to the wrong tenant.",
            )
        secret = form.get("client_secret")
        if not secret:
            return _aadsts(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            )
        if secret != app.secret:
            return _aadsts(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the "
                f"client secret value, not the client secret ID, for a secret added to app '{client_id}'.",
            )
        if self.clock() >= app.secret_expires:
            return _aadsts(
                401,
                "invalid_client",
                7000222,
                f"The provided client secret keys for app '{client_id}' are expired. Visit the Azure "
                "portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider "
                "using certificate credentials for added security: https://aka.ms/certCreds.",
            )
        return self._issue(authority, app, resource, version)

    def _resource(self, form: dict, version: int) -> tuple[str, IdentityResponse | None]:
        if version == 2:
            if "resource" in form:
                return "", _aadsts(400, "invalid_request", 901002, "The 'resource' request parameter isn't supported.")
            scopes = form.get("scope", "").split()
            if len(scopes) != 1 or not scopes[0].endswith("/.default"):
                return "", _aadsts(
                    400,
                    "invalid_scope",
                    1002012,
                    f"The provided value for scope {form.get('scope', '')} is not valid. Client "
                    "credential flows must have a scope value with /.default suffixed to the "
                    "resource identifier (application ID URI).",
                )
            resource = scopes[0][: -len("/.default")]
        else:
            resource = form.get("resource", "")
        if resource.rstrip("/") not in self.graph_resources:
            return "", _aadsts(
                400,
                "invalid_resource",
                500011,
                f"The resource principal named {resource} was not found in the tenant named "
                f"{self.tenant_id}. This can happen if the application has not been installed by the "
                "administrator of the tenant or consented to by any user in the tenant.",
            )
        return resource.rstrip("/"), None

    def _issue(self, authority: str, app: Application, resource: str, version: int) -> IdentityResponse:
        # Access tokens live on the real clock, like the client's cache; the simulated clock only
        # ages secrets and delta tokens. `Simulator.expire_tokens()` ends outstanding tokens early.
        now = int(time.time())
        claims = {
            "aud": catalog.GRAPH_RESOURCE if resource in self.graph_resources else resource,
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": now,
            "nbf": now,
            "exp": now + self.token_lifetime,
            "aio": uuid.uuid4().hex,
            "app_displayname": "entra-pipeline connector",
            "appid": app.client_id,
            "appidacr": "1",
            "idp": f"https://sts.windows.net/{self.tenant_id}/",
            "idtyp": "app",
            "oid": app.object_id,
            "sub": app.object_id,
            "tid": self.tenant_id,
            "uti": uuid.uuid4().hex,
            "ver": "1.0",
        }
        if app.granted_permissions:  # Entra omits the claim when nothing is granted
            claims["roles"] = list(app.granted_permissions)
        self.tokens_issued += 1
        token = self.signer.sign(claims)
        if version == 2:
            return IdentityResponse(
                200,
                {
                    "token_type": "Bearer",
                    "expires_in": self.token_lifetime,
                    "ext_expires_in": self.token_lifetime,
                    "access_token": token,
                },
            )
        return IdentityResponse(
            200,
            {
                "token_type": "Bearer",
                "expires_in": str(self.token_lifetime),
                "ext_expires_in": str(self.token_lifetime),
                "expires_on": str(now + self.token_lifetime),
                "not_before": str(now),
                "resource": resource,
                "access_token": token,
            },
        )
