"""The identity pieces features use, bundled once by the server."""

from __future__ import annotations

from dataclasses import dataclass

from bot.platform.graph.client import GraphCaller, GraphClient
from bot.platform.identity.consent import AdminConsent
from bot.platform.identity.credentials import AppCredential
from bot.platform.identity.delegated import DelegatedAuth, UserRef


@dataclass(frozen=True, slots=True)
class IdentityServices:
    credential: AppCredential | None
    delegated: DelegatedAuth | None  # None when delegated sign-in is off (no public URL or anonymous mode)
    consent: AdminConsent | None
    graph: GraphClient | None = None

    def as_user(self, user: UserRef) -> GraphCaller | None:
        """Graph as the signed-in user (delegated), or None when delegated sign-in or Graph is off here.

        Tokens are fetched (and refreshed) per call; SignInRequired comes out of the first call when the user has
        not signed in or their sign-in was revoked."""
        delegated, graph = self.delegated, self.graph
        if delegated is None or graph is None:
            return None

        async def token() -> str:
            return await delegated.get_token(user)

        return graph.with_token(token, user.tenant_id)
