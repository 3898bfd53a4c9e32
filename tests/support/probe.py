"""A tiny feature for the platform's own tests, so they need none of the app's features.

It answers one command and one card action, offers the platform's sign-in card, and remembers the conversations it
is installed in (so proactive messages have somewhere to go). What reached it is in :attr:`ProbeDeps.heard`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.platform.feature import Feature
from bot.platform.services import Services
from bot.platform.storage.models import ConversationKind, ConversationRecord
from bot.platform.teams.router import CommandRequest, Event, Router
from bot.platform.turns.context import Context, Routes
from bot.platform.turns.signin import signin_card

PONG = "pong"
PONG_TEXT = "The probe heard you."
SIGN_IN_REASON = "The probe acts as you."


@dataclass(frozen=True, slots=True)
class ProbeDeps:
    heard: list[str] = field(default_factory=list)  # "ping", "action:ping", "installed", ... in the order heard


class Probe(Feature):
    name = "probe"

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.deps = ProbeDeps()

    @property
    def heard(self) -> list[str]:
        return self.deps.heard

    def register(self, router: Router) -> None:
        routes = Routes(router, self.services, self.deps)
        routes.command("ping", description="Answer pong", example="ping")(ping)
        routes.command("probe notify", description="Queue a notification to the sender", example="probe notify")(
            notify_me
        )
        routes.command("probe signin", description="Offer the sign-in card", example="probe signin")(offer_signin)
        routes.action("ping")(ping_clicked)
        routes.on(Event.INSTALLED)(installed)


async def ping(ctx: Context[ProbeDeps], request: CommandRequest) -> None:
    ctx.deps.heard.append("ping")
    await ctx.say(PONG, PONG_TEXT)


async def notify_me(ctx: Context[ProbeDeps], request: CommandRequest) -> None:
    """Queue a one-recipient notification to the sender through the outbox's ledger (trace tests)."""
    ctx.deps.heard.append("probe notify")
    outbox, sender = ctx.services.outbox, ctx.activity.sender.aad_object_id
    assert outbox is not None and sender is not None
    card = ctx.notice("Probe", "A notification queued inside a turn")
    await outbox.ledger.create_notification(
        tenant_id=ctx.activity.tenant_id or "",
        sender=f"probe:{sender}",
        idempotency_key=ctx.activity.id or "probe",
        card=card,
        ack_required=False,
        send_at=ctx.now(),
        now=ctx.now(),
        recipients=[(f"user:{sender}", {"userId": sender})],
    )
    outbox.wake()


async def ping_clicked(ctx: Context[ProbeDeps], data: Mapping[str, Any]) -> dict[str, Any] | None:
    ctx.deps.heard.append("action:ping")
    return ctx.notice(PONG, PONG_TEXT)


async def offer_signin(ctx: Context[ProbeDeps], request: CommandRequest) -> None:
    ctx.deps.heard.append("probe signin")
    message = await signin_card(ctx.services, ctx.turn, SIGN_IN_REASON)
    if message is None:
        await ctx.say("Sign-in is off", "This Courier does not offer sign-in.")
        return
    await ctx.reply(message)


async def installed(ctx: Context[ProbeDeps]) -> None:
    """Remember the conversation, so the platform can message it later (sign-in and consent outcomes)."""
    ctx.deps.heard.append("installed")
    a = ctx.activity
    await ctx.services.store.upsert_conversation(
        ConversationRecord(
            conversation_id=a.conversation_root,
            tenant_id=a.tenant_id or "",
            kind=a.kind,
            service_url=a.service_url,
            reference=ctx.turn.conversation_reference(),
            user_aad_object_id=a.sender.aad_object_id if a.kind is ConversationKind.PERSONAL else None,
            updated_at=ctx.now(),
        )
    )
