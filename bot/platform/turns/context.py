"""Handlers as module-level functions: an explicit context, and guards declared on the route.

A feature registers its handlers through a :class:`Routes` bound to its own dependencies, so a handler is a plain
function a test can import and call::

    def register(router: Router, services: Services, deps: ReminderDeps) -> None:
        routes = Routes(router, services, deps)
        routes.command("remind", description=..., example=...)(remind)
        routes.action("reminder.snooze", guards=(signed_in,))(snooze)

    async def remind(ctx: Context[ReminderDeps], request: CommandRequest) -> None:
        ...

A guard looks at the context before the handler runs and answers a :class:`Refusal` to stop it; the refusal is
shown the way that kind of activity is answered (a reply, a card in place of the clicked one, an extension message).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from bot.platform import i18n
from bot.platform.i18n import Translator
from bot.platform.services import Services
from bot.platform.teams.activity import InboundActivity
from bot.platform.teams.extension import message as extension_message
from bot.platform.teams.extension import task_message
from bot.platform.teams.router import ALL_SCOPES, CommandRequest, Event, ExtensionKind, Router
from bot.platform.teams.turn import InvokeResponse, Message, Turn

D = TypeVar("D")


@dataclass(frozen=True, slots=True)
class Context(Generic[D]):
    """What a handler gets: the turn, the platform's services and its feature's own dependencies."""

    turn: Turn
    services: Services
    deps: D

    @property
    def activity(self) -> InboundActivity:
        return self.turn.activity

    @property
    def tenant_id(self) -> str:
        return self.turn.activity.tenant_id or self.services.settings.app_tenant_id or ""

    @property
    def user_key(self) -> str:
        """How features know a person: their Entra object id, else their Teams id (lower case)."""
        sender = self.turn.activity.sender
        return (sender.aad_object_id or sender.id).lower()

    @property
    def words(self) -> Translator:
        """The person's language (the ``locale`` of the activity): ``ctx.words.gettext(...)``, numbers, dates."""
        return i18n.current()

    def now(self) -> datetime:
        return self.services.clock()

    def notice(self, title: str, text: str) -> dict[str, Any]:
        return self.services.notice(title, text)

    async def reply(self, message: Message) -> str | None:
        return await self.turn.reply(message)

    async def say(self, title: str, text: str) -> None:
        """Answer with the small titled notice card."""
        await self.turn.reply(Message(text=title, card=self.notice(title, text)))


@dataclass(frozen=True, slots=True)
class Refusal:
    title: str
    text: str


Guard = Callable[[Context[Any]], Awaitable[Refusal | None]]

CommandFn = Callable[[Context[D], CommandRequest], Awaitable[None]]
ActionFn = Callable[[Context[D], Mapping[str, Any]], Awaitable[dict[str, Any] | None]]
EventFn = Callable[[Context[D]], Awaitable[None]]
ExtensionFn = Callable[[Context[D], Mapping[str, Any]], Awaitable[InvokeResponse]]


class Routes(Generic[D]):
    """A feature's view of the router: every handler it registers gets a :class:`Context` with ``deps``."""

    def __init__(self, router: Router, services: Services, deps: D) -> None:
        self._router = router
        self._services = services
        self._deps = deps

    def context(self, turn: Turn) -> Context[D]:
        return Context(turn, self._services, self._deps)

    async def _refused(self, ctx: Context[D], guards: Sequence[Guard]) -> Refusal | None:
        for guard in guards:
            refusal = await guard(ctx)
            if refusal is not None:
                return refusal
        return None

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
        guards: Sequence[Guard] = (),
    ) -> Callable[[CommandFn[D]], CommandFn[D]]:
        def register(handler: CommandFn[D]) -> CommandFn[D]:
            async def run(turn: Turn, request: CommandRequest) -> None:
                ctx = self.context(turn)
                refusal = await self._refused(ctx, guards)
                if refusal is not None:
                    await ctx.say(refusal.title, refusal.text)
                    return
                await handler(ctx, request)

            # The command's word in each language Courier speaks (its catalogues' "command" context) works too.
            spoken = tuple(w for w in i18n.command_words(name) if w not in aliases and not self._router.knows(w))
            self._router.command(
                name,
                description=description,
                example=example,
                group=group,
                aliases=(*aliases, *spoken),
                scopes=scopes,
                hidden=hidden,
            )(run)
            return handler

        return register

    def action(self, verb: str, *, guards: Sequence[Guard] = ()) -> Callable[[ActionFn[D]], ActionFn[D]]:
        def register(handler: ActionFn[D]) -> ActionFn[D]:
            async def run(turn: Turn, data: Mapping[str, Any]) -> dict[str, Any] | None:
                ctx = self.context(turn)
                refusal = await self._refused(ctx, guards)
                if refusal is not None:
                    return ctx.notice(refusal.title, refusal.text)
                return await handler(ctx, data)

            self._router.action(verb)(run)
            return handler

        return register

    def on(self, event: Event) -> Callable[[EventFn[D]], EventFn[D]]:
        def register(handler: EventFn[D]) -> EventFn[D]:
            async def run(turn: Turn) -> None:
                await handler(self.context(turn))

            self._router.on(event)(run)
            return handler

        return register

    def extension(
        self, kind: ExtensionKind, command_id: str, *, guards: Sequence[Guard] = ()
    ) -> Callable[[ExtensionFn[D]], ExtensionFn[D]]:
        def register(handler: ExtensionFn[D]) -> ExtensionFn[D]:
            async def run(turn: Turn, value: Mapping[str, Any]) -> InvokeResponse:
                ctx = self.context(turn)
                refusal = await self._refused(ctx, guards)
                if refusal is not None:
                    text = f"{refusal.title}: {refusal.text}"
                    # A query answers in the compose box; a dialog (fetchTask, submitAction) with a task message.
                    return extension_message(text) if kind is ExtensionKind.QUERY else task_message(text)
                return await handler(ctx, value)

            self._router.extension(kind, command_id)(run)
            return handler

        return register
