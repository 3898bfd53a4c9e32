"""The identity pieces features use, bundled once by the server."""

from __future__ import annotations

from dataclasses import dataclass

from bot.graph.client import GraphClient
from bot.identity.consent import AdminConsent
from bot.identity.credentials import AppCredential
from bot.identity.delegated import DelegatedAuth


@dataclass(frozen=True, slots=True)
class IdentityServices:
    credential: AppCredential | None
    delegated: DelegatedAuth | None  # None when delegated sign-in is off (no public URL or anonymous mode)
    consent: AdminConsent | None
    graph: GraphClient | None = None
