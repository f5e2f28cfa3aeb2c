"""A thin Graph client for wire-level tests: a token from azure-identity's
ClientSecretCredential (MSAL discovery + token endpoint over TLS), then plain httpx
requests so a test sees exactly the status, headers and body Graph would send."""

from __future__ import annotations

import ssl

import httpx
from azure.identity import ClientSecretCredential

from entra_pipeline.simulator import SimulatorInfo

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


def trust(info: SimulatorInfo) -> ssl.SSLContext:
    """Verification on, trusting the simulator's CA (and nothing is ever switched off)."""
    return ssl.create_default_context(cafile=info.ca_bundle)


def credential(info: SimulatorInfo, secret: str | None = None) -> ClientSecretCredential:
    return ClientSecretCredential(
        info.tenant_id,
        info.client_id,
        secret or info.client_secret,
        authority=info.authority_host,
        disable_instance_discovery=True,
        connection_verify=info.ca_bundle,
    )


class Wire:
    def __init__(self, info: SimulatorInfo, timeout: float = 30.0) -> None:
        self.info = info
        self.http = httpx.Client(base_url=info.graph_endpoint, verify=trust(info), timeout=timeout)
        self._credential = credential(info)

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()
        self._credential.close()

    def token(self) -> str:
        return self._credential.get_token(GRAPH_SCOPE).token

    def get(self, url: str, headers: dict | None = None, **kwargs) -> httpx.Response:
        if url.startswith("/") and not url.startswith("/v1.0") and not url.startswith("/_sim"):
            url = "/v1.0" + url
        return self.http.get(url, headers={"Authorization": f"Bearer {self.token()}", **(headers or {})}, **kwargs)

    def post(self, url: str, json: object, headers: dict | None = None) -> httpx.Response:
        if url.startswith("/") and not url.startswith("/v1.0") and not url.startswith("/_sim"):
            url = "/v1.0" + url
        return self.http.post(url, json=json, headers={"Authorization": f"Bearer {self.token()}", **(headers or {})})

    def ok(self, url: str, **kwargs) -> dict:
        response = self.get(url, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def pages(self, url: str, headers: dict | None = None, limit: int = 10_000) -> list[dict]:
        """Follow nextLinks to the end (or the deltaLink); every page returned."""
        pages = []
        while url and len(pages) < limit:
            page = self.ok(url, headers=headers)
            pages.append(page)
            url = page.get("@odata.nextLink")
        return pages

    def all(self, url: str, headers: dict | None = None) -> list[dict]:
        return [item for page in self.pages(url, headers) for item in page["value"]]

    def admin(self, method: str, path: str, json: object | None = None) -> object:
        response = self.http.request(method, f"/_sim{path}", json=json)
        assert response.status_code == 200, response.text
        return response.json()
