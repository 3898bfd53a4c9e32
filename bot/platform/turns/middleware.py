"""Inbound middleware: small units that each do one job and call ``next()`` to go on.

Order (outermost first), as :func:`default_middleware` builds it:
``CorrelationLogging -> Language -> ErrorBoundary -> TenantGate -> Deduplicate -> RememberLanguage ->
NormalizeText``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from bot.platform import i18n
from bot.platform.cards import CardRenderer
from bot.platform.graph.errors import PermissionDenied
from bot.platform.i18n import _
from bot.platform.log import correlation_id
from bot.platform.messaging.groupcommit import Batcher
from bot.platform.services import Services
from bot.platform.teams.text import normalize_command_text
from bot.platform.teams.turn import InvokeResponse, Message, Turn, card_invoke_response

logger = logging.getLogger(__name__)

Next = Callable[[], Awaitable[None]]
Middleware = Callable[[Turn, Next], Awaitable[None]]


async def run_pipeline(
    turn: Turn, middleware: Sequence[Middleware], endpoint: Callable[[Turn], Awaitable[None]]
) -> None:
    async def call(index: int) -> None:
        if index == len(middleware):
            await endpoint(turn)
            return
        await middleware[index](turn, lambda: call(index + 1))

    await call(0)


async def answer_with_card(turn: Turn, card: dict[str, object], fallback: str) -> None:
    """Show a card in whatever way this kind of activity can be answered."""
    if turn.activity.type == "invoke":
        if turn.activity.name == "adaptiveCard/action":
            turn.state.invoke_response = card_invoke_response(card)
        elif (turn.activity.name or "").startswith("composeExtension/"):
            turn.state.invoke_response = InvokeResponse(
                status=200,
                body={
                    "composeExtension": {
                        "type": "message",
                        "text": fallback,
                    }
                },
            )
        else:
            turn.state.invoke_response = InvokeResponse(status=200, body={"message": fallback})
        return
    await turn.reply(Message(text=fallback, card=card))


class CorrelationLogging:
    """Binds the turn's correlation id to every log line and logs one line per turn (no bodies, no tokens)."""

    async def __call__(self, turn: Turn, next_: Next) -> None:
        token = correlation_id.set(turn.state.correlation_id)
        started = time.perf_counter()
        activity = turn.activity
        try:
            await next_()
        finally:
            logger.info(
                "turn %s%s in %s conversation done in %.0f ms",
                activity.type,
                f"/{activity.name}" if activity.name else "",
                activity.conversation_type,
                (time.perf_counter() - started) * 1000,
                extra={"tenant_id": activity.tenant_id, "activity_id": activity.id},
            )
            correlation_id.reset(token)


class Language:
    """The turn speaks the ``locale`` Teams sent with the activity (its language, else English)."""

    async def __call__(self, turn: Turn, next_: Next) -> None:
        with i18n.using(turn.activity.locale):
            await next_()


class RememberLanguage:
    """Keeps the locale Teams sent for the person, so what Courier sends them later (a reminder firing, an
    announcement) speaks their language too."""

    def __init__(self, services: Services) -> None:
        self._people = services.store.people
        self._clock = services.clock

    async def __call__(self, turn: Turn, next_: Next) -> None:
        activity = turn.activity
        sender = activity.sender
        locale = (activity.locale or "")[:35]
        if locale and activity.tenant_id and sender.id and activity.type in {"message", "invoke"}:
            user = (sender.aad_object_id or sender.id).lower()
            if await self._people.locale(activity.tenant_id, user) != locale:
                await self._people.set_preference(activity.tenant_id, user, self._clock(), locale=locale)
        await next_()


class ErrorBoundary:
    """A failing handler gives the user a short friendly card with the correlation id; the log gets details."""

    def __init__(self, cards: CardRenderer, app_name: str = "Courier") -> None:
        self._cards = cards
        self._app_name = app_name

    async def __call__(self, turn: Turn, next_: Next) -> None:
        try:
            await next_()
        except PermissionDenied as exc:
            logger.warning("a permission is missing: %s", exc.permission)
            card = self._cards.render(
                "permission_denied",
                {
                    "app_name": self._app_name,
                    "feature": _("This"),
                    "permission": exc.permission or _("a Microsoft Graph"),
                    "consent_url": exc.consent_url,
                },
            )
            await answer_with_card(
                turn, card, _("A permission is missing: {permission}.", permission=exc.permission or "Graph")
            )
        except Exception:
            logger.exception("handler failed")
            card = self._cards.render("error", {"correlation_id": turn.state.correlation_id})
            try:
                await answer_with_card(
                    turn, card, _("Sorry, something went wrong (reference {id}).", id=turn.state.correlation_id)
                )
            except Exception:
                logger.exception("could not tell the user about the failure")


class TenantGate:
    """Only allowed tenants (``COURIER_ALLOWED_TENANTS``; empty = all) get through. Others get a polite note."""

    def __init__(self, services: Services) -> None:
        self._settings = services.settings
        self._cards = services.cards

    async def __call__(self, turn: Turn, next_: Next) -> None:
        activity = turn.activity
        if self._settings.tenant_allowed(activity.tenant_id):
            await next_()
            return
        logger.warning("refused a turn from a tenant that is not allowed", extra={"tenant_id": activity.tenant_id})
        if activity.type in {"message", "invoke"} or (
            activity.type == "installationUpdate" and (activity.action or "").startswith("add")
        ):
            card = self._cards.render("tenant_not_allowed", {"app_name": self._settings.app_name})
            await answer_with_card(
                turn, card, _("{app} isn't enabled for your organization.", app=self._settings.app_name)
            )


class Deduplicate:
    """Teams delivers at least once: an activity id seen before in this conversation is dropped."""

    def __init__(self, services: Services) -> None:
        self._store = services.store
        self._clock = services.clock
        self._ttl = timedelta(seconds=services.settings.dedupe_ttl_seconds)
        self._last_prune = 0.0
        # Concurrent turns record their ids in one statement (group commit); each waits for its own answer.
        self._seen: Batcher[tuple[str, str, datetime], bool] = Batcher(self._store.remember_activities)

    async def __call__(self, turn: Turn, next_: Next) -> None:
        activity = turn.activity
        # Edits and deletions carry the id of the message they change, so several edits share one id; applying
        # them is idempotent, so they are never dropped as redeliveries.
        if activity.id and activity.type not in ("messageUpdate", "messageDelete"):
            first = await self._seen.submit((activity.conversation_id, activity.id, self._clock()))
            if not first:
                logger.info("dropped a redelivered activity", extra={"activity_id": activity.id})
                if activity.type == "invoke":
                    turn.state.invoke_response = InvokeResponse(status=200, body=None)
                return
            await self._maybe_prune()
        await next_()

    async def _maybe_prune(self) -> None:
        now = time.monotonic()
        if now - self._last_prune < 600:
            return
        self._last_prune = now
        removed = await self._store.forget_activities_before(self._clock() - self._ttl)
        if removed:
            logger.debug("pruned %d de-duplication entries", removed)


class NormalizeText:
    """Puts the command text (bot @mention stripped, Teams HTML decoded, spaces folded) in ``turn.state.text``."""

    async def __call__(self, turn: Turn, next_: Next) -> None:
        activity = turn.activity
        bot_mentions = tuple(m.text for m in activity.mentions if m.account.id == activity.recipient.id)
        turn.state.text = normalize_command_text(activity.text, bot_mention_texts=bot_mentions)
        await next_()


def default_middleware(services: Services) -> list[Middleware]:
    return [
        CorrelationLogging(),
        Language(),
        ErrorBoundary(services.cards, services.settings.app_name),
        TenantGate(services),
        Deduplicate(services),
        RememberLanguage(services),
        NormalizeText(),
    ]
