"""Team and group recipients, expanded into their members a page at a time.

A ``{"team": teamId}`` recipient reads the team's roster through the Bot Connector (``pagedmembers``, as Teams
pages it); a ``{"groupId"}`` recipient reads the group's transitive user members through Microsoft Graph
(``GroupMember.Read.All``), following ``@odata.nextLink``; an ``{"everyone": true}`` recipient reads every enabled
account of the tenant through Graph ``GET /users`` (``User.Read.All``), guests left out unless asked. Only one page
is in memory at a time, and the engine stores each page with the cursor of the next, so a crash resumes where it
stopped.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from bot.platform.graph.client import GraphClient
from bot.platform.graph.errors import NotFound, PermissionDenied
from bot.platform.identity.credentials import AppCredential
from bot.platform.messaging.engine import MemberPages, NotInstalled
from bot.platform.messaging.ledger import Delivery
from bot.platform.messaging.ratelimit import ConversationLimiter
from bot.platform.storage.base import Store
from bot.platform.teams.connector import BotConnector

logger = logging.getLogger(__name__)

ROSTER_PAGE_SIZE = 500
GRAPH_PAGE_SIZE = 999


class TeamRoster:
    """``{"team": teamId}``: every member of a team Courier is installed in (the Bot Connector roster)."""

    def __init__(self, store: Store, connector: BotConnector, limiter: ConversationLimiter) -> None:
        self._store = store
        self._connector = connector
        self._limiter = limiter

    async def page(self, delivery: Delivery, cursor: str | None) -> tuple[list[str], str | None]:
        team_id = str(delivery.recipient["team"])
        # The team's General channel shares the team's id; any stored channel of the team carries its service URL.
        record = await self._store.find_channel_conversation(delivery.tenant_id, team_id, team_id)
        if record is None:
            raise NotInstalled("not_installed_in_team")
        await self._limiter.acquire(f"roster:{team_id}")  # roster reads count against the conversation's limits
        members, next_cursor = await self._connector.paged_members(
            record.service_url, team_id, continuation=cursor, page_size=ROSTER_PAGE_SIZE
        )
        ids = [str(m["aadObjectId"]) for m in members if isinstance(m, dict) and m.get("aadObjectId")]
        return ids, next_cursor


class GroupMembers:
    """``{"groupId"}``: the transitive user members of an Entra group (nested groups flattened by Graph)."""

    PERMISSION = "GroupMember.Read.All"

    def __init__(self, graph: GraphClient, credential: AppCredential) -> None:
        self._graph = graph
        self._credential = credential

    async def page(self, delivery: Delivery, cursor: str | None) -> tuple[list[str], str | None]:
        caller = self._graph.app(self._credential, delivery.tenant_id)
        group_id = str(delivery.recipient["groupId"])
        try:
            if cursor:
                body = await caller.get(cursor, permission=self.PERMISSION)
            else:
                body = await caller.get(
                    f"/groups/{quote(group_id)}/transitiveMembers/microsoft.graph.user",
                    params={"$select": "id", "$top": str(GRAPH_PAGE_SIZE)},
                    permission=self.PERMISSION,
                )
        except NotFound:
            raise NotInstalled("group_not_found") from None
        except PermissionDenied:
            raise NotInstalled(f"permission_missing:{self.PERMISSION}") from None
        items = body.get("value", []) if isinstance(body, dict) else []
        ids = [str(i["id"]) for i in items if isinstance(i, dict) and i.get("id")]
        next_link = body.get("@odata.nextLink") if isinstance(body, dict) else None
        return ids, (str(next_link) if next_link else None)


class TenantUsers:
    """``{"everyone": true}``: every enabled account of the tenant, a Graph page at a time.

    ``accountEnabled eq true`` is a filter Graph supports by default (no advanced query). Guests are left out here,
    on ``userType``, rather than with ``userType ne 'Guest'``: ``ne`` needs an advanced query (``ConsistencyLevel:
    eventual`` + ``$count``), whose index lags behind new accounts, and ``userType eq 'Member'`` would also drop the
    accounts whose ``userType`` is null (members created before the property existed)."""

    PERMISSION = "User.Read.All"

    def __init__(self, graph: GraphClient, credential: AppCredential) -> None:
        self._graph = graph
        self._credential = credential

    async def page(self, delivery: Delivery, cursor: str | None) -> tuple[list[str], str | None]:
        caller = self._graph.app(self._credential, delivery.tenant_id)
        try:
            if cursor:
                body = await caller.get(cursor, permission=self.PERMISSION)
            else:
                body = await caller.get(
                    "/users",
                    params={
                        "$select": "id,userType,accountEnabled",
                        "$filter": "accountEnabled eq true",
                        "$top": str(GRAPH_PAGE_SIZE),
                    },
                    permission=self.PERMISSION,
                )
        except PermissionDenied:
            raise NotInstalled(f"permission_missing:{self.PERMISSION}") from None
        exclude_guests = delivery.recipient.get("excludeGuests", True) is not False
        items = body.get("value", []) if isinstance(body, dict) else []
        ids = [
            str(i["id"])
            for i in items
            if isinstance(i, dict)
            and i.get("id")
            and i.get("accountEnabled") is not False
            and not (exclude_guests and str(i.get("userType") or "").lower() == "guest")
        ]
        next_link = body.get("@odata.nextLink") if isinstance(body, dict) else None
        return ids, (str(next_link) if next_link else None)


class Members:
    """Dispatches a group recipient to the source that can read it."""

    def __init__(
        self, team: MemberPages | None, group: MemberPages | None, everyone: MemberPages | None = None
    ) -> None:
        self._team = team
        self._group = group
        self._everyone = everyone

    async def page(self, delivery: Delivery, cursor: str | None) -> tuple[list[str], str | None]:
        recipient = delivery.recipient
        source = self._team if "team" in recipient else self._everyone if "everyone" in recipient else self._group
        if source is None:
            needs = "group_needs_graph" if "groupId" in recipient else "everyone_needs_graph"
            raise NotInstalled(needs if "team" not in recipient else "unsupported_recipient")
        return await source.page(delivery, cursor)
