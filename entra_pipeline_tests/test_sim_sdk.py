"""msgraph-sdk and azure-identity, unmodified, authenticate and page through the simulator over
TLS with an explicit CA bundle: typed models, raw JSON through the same adapter and
middleware, and delta rounds built by the SDK (which sends /users/delta())."""

from __future__ import annotations

import asyncio
import json

import httpx
from azure.identity.aio import ClientSecretCredential
from kiota_abstractions.method import Method
from kiota_abstractions.native_response_handler import NativeResponseHandler
from kiota_abstractions.request_information import RequestInformation
from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider
from kiota_http.middleware.options import ResponseHandlerOption
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph_core import GraphClientFactory

from .wire import GRAPH_SCOPE, trust


def _client(info) -> tuple[GraphServiceClient, GraphRequestAdapter, ClientSecretCredential]:
    credential = ClientSecretCredential(
        info.tenant_id,
        info.client_id,
        info.client_secret,
        authority=info.authority_host,
        disable_instance_discovery=True,
        connection_verify=info.ca_bundle,
    )
    auth = AzureIdentityAuthenticationProvider(credential, scopes=[GRAPH_SCOPE])
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(base_url=f"{info.graph_endpoint}/v1.0", verify=trust(info), http2=True)
    )
    adapter = GraphRequestAdapter(auth, http)
    adapter.base_url = f"{info.graph_endpoint}/v1.0"
    return GraphServiceClient(request_adapter=adapter), adapter, credential


def test_typed_paging_of_users_and_group_members(sim):
    async def run():
        client, _, credential = _client(sim.info)
        try:
            page = await client.users.get()
            ids = [u.id for u in page.value]
            while page.odata_next_link:
                page = await client.users.with_url(page.odata_next_link).get()
                ids += [u.id for u in page.value]
            group = next(g for g in sim.tenant.groups if len(sim.tenant.live_members(g)) > 0)
            members = await client.groups.by_group_id(group).members.get()
            return ids, group, [m.id for m in members.value], [type(m).__name__ for m in members.value]
        finally:
            await credential.close()

    ids, group, member_ids, member_types = asyncio.run(run())
    assert sorted(ids) == sorted(sim.tenant.users)
    assert member_ids == sim.tenant.live_members(group)[:100]
    assert set(member_types) <= {"User", "Group", "ServicePrincipal"}


def test_raw_json_through_the_sdk_adapter_and_middleware(sim):
    async def run():
        _, adapter, credential = _client(sim.info)
        try:
            info = RequestInformation(
                Method.GET, f"{sim.info.graph_endpoint}/v1.0/users?$select=id,accountEnabled&$top=999"
            )
            info.url = f"{sim.info.graph_endpoint}/v1.0/users?$select=id,accountEnabled&$top=999"
            info.add_request_options([ResponseHandlerOption(NativeResponseHandler())])
            response = await adapter.send_primitive_async(info, "bytes", {})
            return response.status_code, json.loads(response.content)
        finally:
            await credential.close()

    status, body = asyncio.run(run())
    assert status == 200
    assert {u["id"]: u["accountEnabled"] for u in body["value"]} == {
        u["id"]: u["accountEnabled"] for u in sim.tenant.users.values()
    }


def test_delta_round_built_by_the_sdk(sim):
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.users.delta.delta_request_builder import DeltaRequestBuilder

    async def run():
        client, _, credential = _client(sim.info)
        try:
            config = RequestConfiguration(
                query_parameters=DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
                    select=["id", "displayName", "accountEnabled"]
                )
            )
            page = await client.users.delta.get(request_configuration=config)
            ids = [u.id for u in page.value]
            while page.odata_next_link:
                page = await client.users.delta.with_url(page.odata_next_link).get()
                ids += [u.id for u in page.value]
            return ids, page.odata_delta_link
        finally:
            await credential.close()

    ids, delta_link = asyncio.run(run())
    assert sorted(ids) == sorted(sim.tenant.users)
    assert delta_link and "$deltatoken=" in delta_link
    assert sim.stats()["endpoints"]["GET /users/delta"]["requests"] >= 2
