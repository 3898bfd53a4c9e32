"""A local Microsoft 365 tenant built from the emulators: Entra (app registration, a sign-in page), Graph (sample
people, calendars with busy times, a team with channels and some history) and a Bot Connector.

:class:`LocalTenant` starts them on 127.0.0.1 (ports settable), seeds them, and says what Courier needs to use them
(:meth:`LocalTenant.courier_settings`) and how the Agents Playground should present itself
(:meth:`LocalTenant.playground_config`: the same people, tenant, team and channels, so what a person does in the
Playground is backed by the same directory, calendars and channel history). Used by ``python app.py sandbox`` and
``scripts/run-local``; the tests use the same emulators through ``tests/emulators/fixtures.py``.
"""

from __future__ import annotations

import json
import secrets
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.sandbox.emulators.connector import ConnectorEmulator, Recorded
from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.entra_delegated import DelegatedState, EntraUser, install_delegated
from bot.sandbox.emulators.graph import GraphEmulator
from bot.sandbox.emulators.graph_calendar import CalendarState, install_calendar
from bot.sandbox.emulators.graph_channels import ChannelsState, install_channels, message
from bot.sandbox.emulators.graph_chats import install_chats
from bot.sandbox.emulators.tls import TestCA
from bot.sandbox.relay import summary

TENANT_ID = "5b0c4a6e-2f1d-4c8b-9e3a-7d6f1e2c0a11"
APP_ID = "c0a1e7d2-5b3f-4e8a-9c61-2d4f7b8e9a10"
APP_NAME = "Courier"
DOMAIN = "contoso.test"
TEAM_ID = "19:sandbox-general@thread.tacv2"  # a team's General channel has the team's id
TEAM_GROUP_ID = "8d2e6f10-3a4b-4c5d-8e9f-0a1b2c3d4e5f"
ANNOUNCEMENTS_ID = "19:sandbox-announcements@thread.tacv2"
GRAPH_ROLES = (
    "User.Read.All",
    "GroupMember.Read.All",
    "ChannelMessage.Read.Group",
    "ChatMessage.Read.Chat",
    "TeamMember.Read.Group",
    "ChannelSettings.Read.Group",
    "TeamSettings.Read.Group",
    "AppCatalog.Read.All",
    "TeamsAppInstallation.ReadWriteSelfForUser.All",
    "TeamsActivity.Send",
)


class PortTaken(RuntimeError):
    """A port the sandbox was asked to use is taken; ``str()`` is one line saying which and how to change it."""


@dataclass(frozen=True)
class SamplePerson:
    alias: str
    name: str
    zone: str

    @property
    def oid(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{self.alias}.{DOMAIN}"))

    @property
    def upn(self) -> str:
        return f"{self.alias}@{DOMAIN}"

    @property
    def teams_id(self) -> str:
        # Teams' own ids look like 29:1..., and Teams also accepts the Entra object id when a bot starts a chat.
        # The Playground accepts only the ids it was configured with, so here the two are the same.
        return self.oid


# The first one is "you" in the Playground; the others are colleagues to @mention, invite and remind.
PEOPLE: tuple[SamplePerson, ...] = (
    SamplePerson("alexw", "Alex Wilber", "Europe/London"),
    SamplePerson("meganb", "Megan Bowen", "America/New_York"),
    SamplePerson("adelev", "Adele Vance", "Europe/Paris"),
    SamplePerson("isaiahl", "Isaiah Langer", "Asia/Tokyo"),
    SamplePerson("pattif", "Patti Fernandez", "America/Los_Angeles"),
    SamplePerson("lynner", "Lynne Robbins", "Australia/Sydney"),
)

# (person alias, hour UTC, hours long) busy tomorrow and the day after: Megan is busy in the morning, Adele early
# afternoon, so "schedule ... with @Megan Bowen tomorrow" offers the afternoon.
BUSY: tuple[tuple[str, int, int], ...] = (
    ("meganb", 9, 3),
    ("meganb", 16, 1),
    ("adelev", 13, 2),
    ("alexw", 8, 1),
    ("isaiahl", 10, 4),
)

# Channel history: (channel, days ago, hour, author, text, replies [(minutes later, author, text)]).
History = tuple[str, int, int, str, str, tuple[tuple[int, str, str], ...]]
HISTORY: tuple[History, ...] = (
    (TEAM_ID, 9, 9, "meganb", "Kick-off notes for the Q3 launch are in the wiki.", ((20, "adelev", "Thanks!"),)),
    (
        TEAM_ID,
        8,
        14,
        "adelev",
        "Who owns the release checklist this time?",
        ((45, "alexw", "I do, I'll share it tomorrow."), (60, "adelev", "Great.")),
    ),
    (TEAM_ID, 6, 10, "isaiahl", "Can someone review the pricing page copy?", ()),
    (
        TEAM_ID,
        4,
        16,
        "pattif",
        "The staging build is green again.",
        ((5, "meganb", "Nice work"), (12, "lynner", "Deploying to QA now.")),
    ),
    (TEAM_ID, 3, 11, "lynner", "How do we request access to the analytics workspace?", ((180, "pattif", "Ask IT."),)),
    (TEAM_ID, 2, 9, "alexw", "Standup moved to 9:30 this week.", ()),
    (TEAM_ID, 0, 8, "meganb", "Is the customer demo still on for Friday?", ()),
    (ANNOUNCEMENTS_ID, 7, 12, "alexw", "Welcome to the team space, everyone.", ((30, "meganb", "Hello all"),)),
    (ANNOUNCEMENTS_ID, 1, 15, "adelev", "Office closed on Monday for maintenance.", ()),
)


def _person(alias: str) -> SamplePerson:
    return next(p for p in PEOPLE if p.alias == alias)


def check_port(host: str, port: int, what: str, how: str) -> None:
    """Raise :class:`PortTaken` (one line naming the port and ``how`` to change it) if ``port`` is taken."""
    if port == 0:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind (a TIME_WAIT is no owner)
        try:
            probe.bind((host, port))
        except OSError:
            raise PortTaken(f"port {port} ({what}) is already in use on {host}: {how}") from None


@dataclass(frozen=True)
class Secrets:
    """Kept in the state folder so a restart keeps the same keys (stored tokens stay readable)."""

    app_secret: str
    api_key: str
    encryption_key: str

    @classmethod
    def load(cls, folder: Path) -> Secrets:
        path = folder / "secrets.json"
        if path.is_file():
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(data["app_secret"], data["api_key"], data["encryption_key"])
        made = cls(secrets.token_urlsafe(24), "local-" + secrets.token_urlsafe(24), secrets.token_urlsafe(32))
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(made.__dict__), encoding="utf-8")
        path.chmod(0o600)
        return made


SERVICES = ("Entra", "Graph", "Bot Connector", "sign-in page")


def sandbox_ports(base: int) -> dict[str, int]:
    """Entra, Graph, the Bot Connector and the sign-in page on ``base`` and the three ports after it (0: free)."""
    return {name: base + offset if base else 0 for offset, name in enumerate(SERVICES)}


class LocalTenant:
    """Entra (HTTPS, and its sign-in page over HTTP for the browser), Graph and a Bot Connector on ``host``, on
    ``base_port`` and the three after it (0: free ports)."""

    def __init__(self, state_dir: Path, *, host: str = "127.0.0.1", base_port: int = 0) -> None:
        self.state_dir = state_dir
        self.host = host
        self.ports = sandbox_ports(base_port)
        self.secrets = Secrets.load(state_dir)
        self.ca: TestCA | None = None
        self.entra: EntraEmulator | None = None
        self.graph: GraphEmulator | None = None
        self.connector: ConnectorEmulator | None = None
        self.users: DelegatedState | None = None
        self.calendar: CalendarState | None = None
        self.channels: ChannelsState | None = None
        self._reported = 0

    # -- lifecycle ---------------------------------------------------------------------------------------
    def start(self, *, now: datetime | None = None) -> None:
        for what, port in self.ports.items():
            check_port(self.host, port, f"the sandbox's {what}", "pick other ports with --port, or leave it out")
        self.ca = ca = TestCA()
        entra = self.entra = EntraEmulator(
            ssl_context=ca.server_ssl_context(),
            host=self.host,
            port=self.ports["Entra"],
            sign_in_port=self.ports["sign-in page"],
        )
        self.users = install_delegated(entra)
        self.users.sign_in_page = True
        self.users.directory = [EntraUser(p.oid, p.name, p.upn) for p in PEOPLE]
        entra.register_app(
            APP_ID,
            tenant=TENANT_ID,
            secret=self.secrets.app_secret,
            roles={"https://graph.microsoft.com": GRAPH_ROLES},
        )
        graph = self.graph = GraphEmulator(entra, ca.server_ssl_context(), port=self.ports["Graph"])
        self.calendar = install_calendar(graph)
        self.channels = install_channels(graph)
        self.connector = ConnectorEmulator(
            token_verifier=lambda token: entra.key.verify(token, audience="https://api.botframework.com"),
            ssl_context=ca.server_ssl_context(),
            enforce_limits=False,
            port=self.ports["Bot Connector"],
        )
        install_chats(graph, self.connector)  # the chats show what the connector received (reconciliation)
        self._seed(now or datetime.now(UTC))
        entra.start()
        graph.start()
        self.connector.start()

    def stop(self) -> None:
        for server in (self.connector, self.graph, self.entra):
            if server is not None and server.url:
                server.stop()

    # -- seed ----------------------------------------------------------------------------------------------
    def _seed(self, now: datetime) -> None:
        assert self.graph is not None and self.calendar is not None and self.channels is not None
        assert self.connector is not None
        for person in PEOPLE:
            self.graph.add_user(person.oid, person.upn, person.name)
        self.graph.add_group(TEAM_GROUP_ID, [p.oid for p in PEOPLE])
        midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
        for days in (1, 2):
            for alias, hour, hours in BUSY:
                start = midnight + timedelta(days=days, hours=hour)
                self.calendar.busy_for(_person(alias).upn, start, start + timedelta(hours=hours))
        for number, (channel, days, hour, alias, text, replies) in enumerate(HISTORY):
            at = midnight - timedelta(days=days) + timedelta(hours=hour)
            if at > now.replace(tzinfo=None):
                at = now.replace(tzinfo=None) - timedelta(hours=2)
            author = _person(alias)
            root_id = str(1_700_000_000_000 + number * 1000)
            thread = [
                message(f"{root_id}{n}", _person(r).oid, _person(r).name, at + timedelta(minutes=m), t, root_id)
                for n, (m, r, t) in enumerate(replies, start=1)
            ]
            self.channels.add_thread(channel, message(root_id, author.oid, author.name, at, text), thread)
        members = [
            {"id": p.teams_id, "aadObjectId": p.oid, "name": p.name, "email": p.upn, "userPrincipalName": p.upn}
            for p in PEOPLE
        ]
        self.connector.add_team(TEAM_ID, "Contoso Launch", [{"id": ANNOUNCEMENTS_ID, "name": "Announcements"}])
        self.connector.add_members(TEAM_ID, members)

    # -- what Courier and the Playground need --------------------------------------------------------------
    @property
    def you(self) -> SamplePerson:
        return PEOPLE[0]

    def courier_settings(self, courier_url: str, *, connector_url: str | None = None) -> dict[str, str]:
        """Courier's environment for this tenant. ``connector_url``: where proactive messages go (the Playground's
        connector in local mode; this sandbox's own Bot Connector otherwise)."""
        assert self.ca is not None and self.entra is not None and self.graph is not None
        assert self.connector is not None
        ca = str(self.ca.ca_bundle_path)
        return {
            "MicrosoftAppId": APP_ID,
            "MicrosoftAppPassword": self.secrets.app_secret,
            "MicrosoftAppTenantId": TENANT_ID,
            "MicrosoftAppType": "SingleTenant",
            "COURIER_APP_NAME": APP_NAME,
            "COURIER_LOGIN_AUTHORITY_HOST": self.entra.url,
            "COURIER_GRAPH_BASE_URL": self.graph.url,
            "COURIER_BOT_SERVICE_URL": connector_url or self.connector.url,
            "COURIER_PUBLIC_URL": courier_url.rstrip("/"),
            "COURIER_ENCRYPTION_KEY": self.secrets.encryption_key,
            "COURIER_API_KEYS": self.secrets.api_key,
            "COURIER_SENDERS": self.you.oid,
            "COURIER_ALLOWED_TENANTS": TENANT_ID,
            "COURIER_CA_BUNDLE": ca,
            "REQUESTS_CA_BUNDLE": ca,  # MSAL (requests) reads it
            "SSL_CERT_FILE": ca,
            # The Agents Playground sends no Bot Framework token; Courier still signs in to Entra and Graph.
            "COURIER_DANGEROUSLY_SKIP_INBOUND_AUTH": "1",
        }

    def playground_config(self) -> dict[str, Any]:
        """The Agents Playground's ``.m365agentsplayground.yml`` (JSON is YAML): this tenant's people, team and
        channels, Courier as the bot. Its chat ids stay the same across starts."""

        def user(p: SamplePerson) -> dict[str, str]:
            given, _, surname = p.name.partition(" ")
            return {
                "id": p.teams_id,
                "name": p.name,
                "userPrincipleName": p.upn,  # sic: the Playground's spelling
                "aadObjectId": p.oid,
                "givenName": given,
                "surname": surname,
                "email": p.upn,
            }

        return {
            "version": "0.1.1",
            "tenantId": TENANT_ID,
            "bot": {"id": f"28:{APP_ID}", "name": APP_NAME},
            "currentUser": user(self.you),
            "users": [user(p) for p in PEOPLE[1:]],
            "personalChat": {"id": "a:sandbox-personal-chat"},
            "groupChat": {"id": "19:sandbox-group-chat@thread.v2", "name": "Launch crew"},
            "team": {
                "id": TEAM_ID,
                "name": "Contoso Launch",
                "aadGroupId": TEAM_GROUP_ID,
                "channels": [{"id": ANNOUNCEMENTS_ID, "name": "Announcements"}],
            },
        }

    def describe(self) -> list[str]:
        """What it serves, one line each."""
        assert self.entra is not None and self.graph is not None and self.connector is not None
        lines = [
            f"Entra (tokens):               {self.entra.url}/{TENANT_ID}/v2.0/.well-known/openid-configuration",
            f"Entra sign-in page:           {self.entra.sign_in_url}/{TENANT_ID}/oauth2/v2.0/authorize",
            f"Microsoft Graph:              {self.graph.url}",
            f"Bot Connector:                {self.connector.url}",
            f"Tenant {TENANT_ID}, app {APP_NAME} ({APP_ID})",
            "People (sign in as any of them):",
        ]
        lines += [f"  {p.name:<16} {p.upn:<22} {p.zone}" for p in PEOPLE]
        lines.append("Team Contoso Launch: General and Announcements, with some history for insights")
        return lines

    def new_deliveries(self) -> list[str]:
        """What reached this sandbox's own Bot Connector since the last call, one line each."""
        if self.connector is None:
            return []
        recorded: list[Recorded] = list(self.connector.recorded)
        names = {p.oid: p.name for p in PEOPLE}
        lines = [_delivery_line(r, self.connector.created, names) for r in recorded[self._reported :]]
        self._reported = len(recorded)
        return lines


def _delivery_line(record: Recorded, created: dict[str, dict[str, Any]], names: dict[str, str]) -> str:
    members = (created.get(record.conversation_id) or {}).get("members") or [{}]
    person = names.get(str(members[0].get("id", "")).lower())
    where = f"{person}'s chat with Courier" if person else record.conversation_id
    return f"connector: {record.kind} to {where}: {summary(record.activity)}"
