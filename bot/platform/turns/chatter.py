"""Small talk: what people say to a bot that isn't a command (greetings, thanks) gets a short friendly answer, not
"I didn't understand that"."""

from __future__ import annotations

import re

from bot.platform.i18n import N_, _

_WORDS = re.compile(r"[^\w' ]+")
GREETINGS = frozenset(
    {"hi", "hello", "hey", "hiya", "yo", "good morning", "good afternoon", "good evening", "morning", "hi there"}
    | {"hallo", "guten morgen", "guten tag", "bonjour", "salut", "hola", "buenos días", "olá", "oi", "bom dia"}
    | {"こんにちは", "おはよう", "おはようございます"}
)
THANKS = frozenset(
    {"thanks", "thank you", "thx", "ty", "cheers", "thanks a lot", "thank you very much", "great"}
    | {"danke", "vielen dank", "merci", "merci beaucoup", "gracias", "muchas gracias", "obrigado", "obrigada"}
    | {"ありがとう", "ありがとうございます"}
)
GOODBYES = frozenset({"bye", "goodbye", "see you", "ok", "okay", "cool", "nice", "got it"})
HELP_HINT = N_("Type help to see what I can do.")


def _plain(text: str) -> str:
    """Lower case, punctuation and emoji dropped, spaces folded: "Thanks!! 🙏" -> "thanks"."""
    return " ".join(_WORDS.sub(" ", text.lower()).split())


def small_talk(text: str, first_name: str | None, *, personal: bool) -> str | None:
    """The answer to a greeting, a thanks or a sign-off, or None when ``text`` is none of those. In a chat with
    Courier alone a greeting says how to start; in a group it stays short."""
    said = _plain(text)
    if said in GREETINGS or (said.split(" ", 1)[0] in {"hi", "hello", "hey"} and len(said.split()) <= 3):
        hello = _("Hi {name}!", name=first_name) if first_name else _("Hi!")
        return f"{hello} {_(HELP_HINT)}" if personal else f"{hello} {_('Mention me with help to see what I can do.')}"
    if said in THANKS or said.startswith(("thank", "danke", "merci", "gracias", "obrigad", "ありがとう")):
        return _("You're welcome!")
    if said in GOODBYES:
        return "\U0001f44d"
    return None


def shared_something() -> str:
    """A message with a card or file and no words (e.g. a card inserted from a messaging extension)."""
    return f"{_('Got it.')} {_(HELP_HINT)}"
