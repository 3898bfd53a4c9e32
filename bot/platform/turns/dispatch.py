"""From an activity to the handler that owns it: commands, card actions, events and messaging extensions."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from bot.platform.cards import CardRenderer
from bot.platform.i18n import _
from bot.platform.teams.router import Event, ExtensionKind, Router
from bot.platform.teams.turn import InvokeResponse, Message, Turn, card_invoke_response, message_invoke_response
from bot.platform.telemetry import Telemetry
from bot.platform.turns.chatter import shared_something, small_talk
from bot.platform.turns.middleware import Middleware, run_pipeline

logger = logging.getLogger(__name__)

# Teams sends it in personal chats to apps with the RSC permission ChatMessageReadReceipt.Read.Chat, when the user
# has read receipts on; its value is {"lastReadMessageId": "..."}.
READ_RECEIPT_EVENT = "application/vnd.microsoft.readReceipt"
_CHANNEL_EVENTS = {
    "channelCreated",
    "channelRenamed",
    "channelDeleted",
    "channelRestored",
    "channelShared",
    "channelUnshared",
    "teamRenamed",
    "teamArchived",
    "teamUnarchived",
    "teamDeleted",
    "teamRestored",
}


class Dispatcher:
    """Runs the middleware, then routes the turn. Used by the adapter seam and directly by tests."""

    def __init__(
        self,
        router: Router,
        middleware: Sequence[Middleware],
        cards: CardRenderer,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._telemetry = telemetry or Telemetry.off()
        self._router = router
        self._middleware = list(middleware)
        self._cards = cards

    async def handle(self, turn: Turn) -> None:
        activity = turn.activity
        began = time.perf_counter()
        attributes = {"activity.type": activity.type or "", "channel": activity.channel_id or ""}
        with self._telemetry.span("teams turn", attributes):
            await run_pipeline(turn, self._middleware, self._traced_route)
        self._telemetry.turn(time.perf_counter() - began, activity.type or "")

    async def _traced_route(self, turn: Turn) -> None:
        with self._telemetry.span("handler", {"activity.type": turn.activity.type or ""}):
            await self._route(turn)

    async def _route(self, turn: Turn) -> None:
        activity = turn.activity
        kind = activity.type
        if kind == "message":
            await self._on_message(turn)
        elif kind == "invoke":
            await self._on_invoke(turn)
        elif kind == "installationUpdate":
            action = (activity.action or "").lower()
            if action.startswith("add"):
                await self._emit(turn, Event.INSTALLED)
            elif action.startswith("remove"):
                await self._emit(turn, Event.UNINSTALLED)
        elif kind == "conversationUpdate":
            await self._on_conversation_update(turn)
        elif kind == "messageUpdate":
            await self._emit(turn, Event.MESSAGE_UPDATED)
        elif kind == "messageDelete":
            await self._emit(turn, Event.MESSAGE_DELETED)
        elif kind == "messageReaction":
            await self._emit(turn, Event.REACTION)
        elif kind == "event" and activity.name == READ_RECEIPT_EVENT:
            await self._emit(turn, Event.READ_RECEIPT)
        else:
            logger.debug("ignored activity type %s", kind)

    async def _emit(self, turn: Turn, event: Event) -> None:
        for handler in self._router.event_handlers(event):
            await handler(turn)

    # -- messages ---------------------------------------------------------------------------------------
    async def _on_message(self, turn: Turn) -> None:
        activity = turn.activity
        value = activity.value
        if isinstance(value, dict) and isinstance(value.get("verb"), str):
            # Action.Submit from a card: routed by data.verb like Action.Execute.
            card = await self._run_action(turn, value["verb"], value)
            if card is not None:
                if activity.reply_to_id:
                    await turn.update(activity.reply_to_id, Message(card=card))
                else:
                    await turn.reply(Message(card=card))
            return

        addressed = activity.is_personal or activity.mentions_bot()
        command = await self._run_command(turn, turn.state.text) if addressed else False
        if activity.kind.value == "channel" and not command:
            # What people say in the channel; a command to Courier (insights included) is not.
            await self._emit(turn, Event.CHANNEL_MESSAGE)

    async def _run_command(self, turn: Turn, text: str) -> bool:
        """Run the command ``text`` names; True when it was one. Chatter gets a short friendly answer (or, in a
        chat or channel, none unless it is close to a command); only a real unknown command in a personal chat is
        answered with "I didn't understand"."""
        activity = turn.activity
        if not text and activity.raw.get("attachments"):
            if activity.is_personal:  # e.g. a card inserted from a messaging extension
                await turn.reply(Message(text=shared_something()))
            return False
        matched = self._router.match(text or "help")
        if matched is None:
            await self._not_a_command(turn, text)
            return False
        spec, request = matched
        logger.info("command %s", spec.name)
        await spec.handler(turn, request)
        return True

    async def _not_a_command(self, turn: Turn, text: str) -> None:
        activity = turn.activity
        first_name = (activity.sender.name or "").split(" ")[0] or None
        answer = small_talk(text, first_name, personal=activity.is_personal)
        if answer is not None:
            await turn.reply(Message(text=answer))
            return
        suggestion = self._router.suggest(text)
        if not activity.is_personal and suggestion is None:
            logger.info("a mention that is not a command: not answered")  # talk among people, not to Courier
            return
        card = self._cards.render("unknown_command", {"text": text, "suggestion": suggestion})
        said = _("I didn't understand '{text}'.", text=text)
        hint = " " + _("Did you mean '{command}'?", command=suggestion) if suggestion else ""
        await turn.reply(Message(text=f"{said}{hint} {_('Type help to see every command.')}", card=card))

    # -- invokes ----------------------------------------------------------------------------------------
    async def _on_invoke(self, turn: Turn) -> None:
        name = turn.activity.name or ""
        value = turn.activity.value if isinstance(turn.activity.value, dict) else {}
        if name == "adaptiveCard/action":
            raw_action = value.get("action")
            action: dict[str, Any] = raw_action if isinstance(raw_action, dict) else {}
            verb = action.get("verb")
            raw_data = action.get("data")
            data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
            if not isinstance(verb, str) or not verb:
                turn.state.invoke_response = _bad_action("the card action has no verb")
                return
            card = await self._run_action(turn, verb, data)
            if turn.state.invoke_response is None:
                turn.state.invoke_response = (
                    card_invoke_response(card) if card is not None else message_invoke_response("Done.")
                )
            return
        if name.startswith("composeExtension/"):
            await self._on_extension(turn, name.removeprefix("composeExtension/"), value)
            return
        logger.info("no handler for invoke %s", name)
        turn.state.invoke_response = InvokeResponse(status=200, body=None)  # acknowledged; never a 5xx

    async def _run_action(self, turn: Turn, verb: str, data: Mapping[str, Any]) -> dict[str, Any] | None:
        handler = self._router.action_handler(verb)
        if handler is None:
            logger.warning("unknown card action verb %r", verb)
            unknown: dict[str, Any] = self._cards.render("unknown_command", {"text": verb, "suggestion": None})
            return unknown
        return await handler(turn, data)

    async def _on_extension(self, turn: Turn, operation: str, value: Mapping[str, Any]) -> None:
        kinds = {"query": ExtensionKind.QUERY, "fetchTask": ExtensionKind.FETCH_TASK}
        kind = kinds.get(operation, ExtensionKind.SUBMIT_ACTION if operation == "submitAction" else None)
        command_id = value.get("commandId")
        handler = (
            self._router.extension_handler(kind, command_id)
            if kind is not None and isinstance(command_id, str)
            else None
        )
        if handler is None:
            logger.info("no messaging extension handler for %s %r", operation, command_id)
            turn.state.invoke_response = InvokeResponse(status=200, body=None)  # acknowledged; never a 5xx
            return
        turn.state.invoke_response = await handler(turn, value)

    # -- conversation updates ---------------------------------------------------------------------------
    async def _on_conversation_update(self, turn: Turn) -> None:
        activity = turn.activity
        bot_id = activity.recipient.id
        if any(m.id == bot_id for m in activity.members_added):
            await self._emit(turn, Event.INSTALLED)
        elif any(m.id == bot_id for m in activity.members_removed):
            await self._emit(turn, Event.UNINSTALLED)
        elif activity.members_added or activity.members_removed:
            await self._emit(turn, Event.MEMBERS_CHANGED)
        if activity.event_type in _CHANNEL_EVENTS:
            await self._emit(turn, Event.CHANNEL_CHANGED)


def _bad_action(reason: str) -> InvokeResponse:
    return InvokeResponse(
        status=400,
        body={
            "statusCode": 400,
            "type": "application/vnd.microsoft.error",
            "value": {"code": "BadRequest", "message": reason},
        },
    )
