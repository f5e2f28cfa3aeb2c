"""Credentials for a connector: azure-identity's ClientSecretCredential against the
connector's cloud (or an explicit authority such as the simulator), TLS verified, with a
custom CA only when the connector names one."""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

from azure.identity.aio import ClientSecretCredential
from pydantic import SecretStr

from ..config import CLOUDS, Connector

KNOWN_AUTHORITIES = {login for login, _ in CLOUDS.values()}


def tls_context(connector: Connector) -> ssl.SSLContext:
    """Verification is always on; a CA bundle adds trust, it never removes checks."""
    if connector.ca_bundle:
        return ssl.create_default_context(cafile=str(connector.ca_bundle))
    return ssl.create_default_context()


def credential(connector: Connector, secret: SecretStr) -> ClientSecretCredential:
    options: dict = {"authority": connector.login_host}
    if connector.login_host not in KNOWN_AUTHORITIES:
        # Instance discovery asks login.microsoftonline.com about unknown hosts; an explicit
        # authority (simulator, proxy, sovereign endpoint) is trusted by configuration instead.
        options["disable_instance_discovery"] = True
    if connector.ca_bundle:
        options["connection_verify"] = str(connector.ca_bundle)
    return ClientSecretCredential(connector.tenant_id, connector.client_id, secret.get_secret_value(), **options)


def graph_host_name(connector: Connector) -> str:
    return urlsplit(connector.graph_host).hostname or ""
