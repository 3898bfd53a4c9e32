"""Listing users as Graph allows it: $filter with eq by default, ne only as an advanced query, $select, paging."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.platform.graph import GraphCaller, GraphClient
from bot.platform.graph.errors import GraphError
from bot.platform.identity.credentials import MsalAppCredential
from bot.platform.settings import Settings
from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.graph import GraphEmulator
from bot.sandbox.emulators.tls import TestCA

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
APP_ID = "00000000-0000-0000-0000-00000000a9a8"


@pytest.fixture
async def caller(graph: GraphEmulator, entra: EntraEmulator, test_ca: TestCA) -> AsyncIterator[GraphCaller]:
    client = GraphClient(graph.url, ssl_context=test_ca.client_ssl_context(), max_attempts=1)
    entra.register_app(APP_ID, tenant=TENANT, secret="s", roles={"https://graph.microsoft.com": ("User.Read.All",)})
    settings = Settings(app_id=APP_ID, app_password="s", app_tenant_id=TENANT, login_authority_host=entra.url)
    graph.add_user("u1", "ana@contoso.com", "Ana")
    graph.add_user("u2", "guest@contoso.com", "Guest", user_type="Guest")
    graph.add_user("u3", "gone@contoso.com", "Gone", enabled=False)
    graph.add_user("u4", "bo@contoso.com", "Bo")
    yield client.app(MsalAppCredential(settings), TENANT)
    await client.close()


async def _all(
    caller: GraphCaller, params: dict[str, str], headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    body = await caller.get("/users", params=params, headers=headers)
    while True:
        items.extend(body["value"])
        if "@odata.nextLink" not in body:
            return items
        body = await caller.get(body["@odata.nextLink"])


async def test_an_eq_filter_works_by_default_and_survives_paging(caller: GraphCaller) -> None:
    users = await _all(caller, {"$filter": "accountEnabled eq true", "$select": "id,userType"})
    assert users == [
        {"id": "u1", "userType": "Member"},
        {"id": "u2", "userType": "Guest"},
        {"id": "u4", "userType": "Member"},
    ]


async def test_ne_without_the_advanced_query_parameters_is_refused(caller: GraphCaller) -> None:
    with pytest.raises(GraphError) as refused:
        await caller.get("/users", params={"$filter": "userType ne 'Guest'"})
    assert (refused.value.status, refused.value.code) == (400, "Request_UnsupportedQuery")


async def test_ne_as_an_advanced_query_is_answered(caller: GraphCaller) -> None:
    users = await _all(
        caller,
        {"$filter": "userType ne 'Guest' and accountEnabled eq true", "$count": "true", "$select": "id"},
        headers={"ConsistencyLevel": "eventual"},
    )
    assert users == [{"id": "u1"}, {"id": "u4"}]


async def test_a_filter_the_emulator_cannot_apply_is_refused_not_ignored(caller: GraphCaller) -> None:
    with pytest.raises(GraphError) as refused:  # aboutMe cannot be filtered on in Graph either
        await caller.get("/users", params={"$filter": "aboutMe eq 'hi'"})
    assert refused.value.status == 400
