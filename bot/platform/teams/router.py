"""The declarative route table: commands, card actions, conversation events and messaging-extension commands.

Feature modules register handlers with decorators; nothing here knows HTTP or botbuilder, so routes are
testable with a recorded :class:`~bot.platform.teams.turn.Turn`::

    router = Router()

    @router.command("help", description="List what I can do", example="help", group="General")
    async def show_help(turn: Turn, request: CommandRequest) -> None: ...

    @router.action("help")
    async def help_clicked(turn: Turn, data: Mapping[str, Any]) -> dict[str, Any] | None: ...
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.platform.teams.turn import InvokeResponse, Turn

logger = logging.getLogger(__name__)

ALL_SCOPES: tuple[str, ...] = ("personal", "groupChat", "team")


@dataclass(frozen=True, slots=True)
class CommandRequest:
    name: str  # the canonical command name, e.g. "notify status"
    args: str  # the rest of the text, whitespace folded, case kept
    text: str  # the whole normalized text


CommandHandler = Callable[[Turn, CommandRequest], Awaitable[None]]
# An action answers with a card that replaces the clicked one, or None to keep it.
ActionHandler = Callable[[Turn, Mapping[str, Any]], Awaitable[dict[str, Any] | None]]
EventHandler = Callable[[Turn], Awaitable[None]]
# Messaging extension handlers answer the invoke themselves.
ExtensionHandler = Callable[[Turn, Mapping[str, Any]], Awaitable[InvokeResponse]]


class Event(StrEnum):
    INSTALLED = "installed"  # bot added to a personal chat, group chat or team
    UNINSTALLED = "uninstalled"  # bot removed
    CHANNEL_CHANGED = "channel_changed"  # channelCreated / channelRenamed / channelDeleted / teamRenamed ...
    MEMBERS_CHANGED = "members_changed"  # people (not the bot) added or removed
    MESSAGE_UPDATED = "message_updated"
    MESSAGE_DELETED = "message_deleted"
    REACTION = "reaction"  # messageReaction: reactions added to or removed from a message
    CHANNEL_MESSAGE = "channel_message"  # every channel message (RSC), after command routing
    READ_RECEIPT = "read_receipt"  # event application/vnd.microsoft.readReceipt: a personal chat read up to a message


class ExtensionKind(StrEnum):
    QUERY = "query"
    FETCH_TASK = "fetchTask"
    SUBMIT_ACTION = "submitAction"


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    description: str
    example: str
    group: str
    handler: CommandHandler
    aliases: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ALL_SCOPES
    hidden: bool = False

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(self.name.split())


class DuplicateRoute(ValueError):
    pass


class Router:
    def __init__(self) -> None:
        self._commands: dict[str, CommandSpec] = {}  # every name and alias -> spec
        self._ordered: list[CommandSpec] = []
        self._actions: dict[str, ActionHandler] = {}
        self._events: dict[Event, list[EventHandler]] = {}
        self._extensions: dict[tuple[ExtensionKind, str], ExtensionHandler] = {}

    # -- registration ---------------------------------------------------------------------------------
    def command(
        self,
        name: str,
        *,
        description: str,
        example: str,
        group: str = "General",
        aliases: tuple[str, ...] = (),
        scopes: tuple[str, ...] = ALL_SCOPES,
        hidden: bool = False,
    ) -> Callable[[CommandHandler], CommandHandler]:
        def register(handler: CommandHandler) -> CommandHandler:
            spec = CommandSpec(
                name=_canonical(name),
                description=description,
                example=example,
                group=group,
                handler=handler,
                aliases=tuple(_canonical(a) for a in aliases),
                scopes=scopes,
                hidden=hidden,
            )
            for key in (spec.name, *spec.aliases):
                if key in self._commands:
                    raise DuplicateRoute(f"command {key!r} is registered twice")
                self._commands[key] = spec
            self._ordered.append(spec)
            return handler

        return register

    def action(self, verb: str) -> Callable[[ActionHandler], ActionHandler]:
        def register(handler: ActionHandler) -> ActionHandler:
            if verb in self._actions:
                raise DuplicateRoute(f"card action verb {verb!r} is registered twice")
            self._actions[verb] = handler
            return handler

        return register

    def on(self, event: Event) -> Callable[[EventHandler], EventHandler]:
        def register(handler: EventHandler) -> EventHandler:
            self._events.setdefault(event, []).append(handler)
            return handler

        return register

    def extension(self, kind: ExtensionKind, command_id: str) -> Callable[[ExtensionHandler], ExtensionHandler]:
        def register(handler: ExtensionHandler) -> ExtensionHandler:
            key = (kind, command_id)
            if key in self._extensions:
                raise DuplicateRoute(f"messaging extension {kind}:{command_id} is registered twice")
            self._extensions[key] = handler
            return handler

        return register

    # -- look-up ---------------------------------------------------------------------------------------
    def knows(self, name: str) -> bool:
        """Whether ``name`` is a command's name or alias already."""
        return _canonical(name) in self._commands

    def commands(self, *, include_hidden: bool = False) -> list[CommandSpec]:
        return [c for c in self._ordered if include_hidden or not c.hidden]

    def match(self, text: str) -> tuple[CommandSpec, CommandRequest] | None:
        """The longest registered command that prefixes ``text`` (by whole words, case-insensitive)."""
        words = text.split()
        lowered = [w.lower() for w in words]
        for length in range(min(len(words), 4), 0, -1):
            key = " ".join(lowered[:length])
            spec = self._commands.get(key)
            if spec is not None:
                args = " ".join(words[length:])
                return spec, CommandRequest(name=spec.name, args=args, text=text)
        return None

    def suggest(self, text: str) -> str | None:
        """The closest command name for an unknown command ("did you mean")."""
        words = text.lower().split()
        if not words:
            return None
        names = list(self._commands)
        candidates = {" ".join(words[:n]) for n in range(1, min(len(words), 3) + 1)}
        best: tuple[float, str] | None = None
        for candidate in candidates:
            for match in difflib.get_close_matches(candidate, names, n=1, cutoff=0.6):
                score = difflib.SequenceMatcher(None, candidate, match).ratio()
                if best is None or score > best[0]:
                    best = (score, self._commands[match].name)
        return best[1] if best else None

    def action_handler(self, verb: str) -> ActionHandler | None:
        return self._actions.get(verb)

    def event_handlers(self, event: Event) -> list[EventHandler]:
        return list(self._events.get(event, ()))

    def extension_handler(self, kind: ExtensionKind, command_id: str) -> ExtensionHandler | None:
        return self._extensions.get((kind, command_id))

    def extension_commands(self) -> list[tuple[ExtensionKind, str]]:
        return list(self._extensions)


def _canonical(name: str) -> str:
    return " ".join(name.lower().split())
