"""Small talk: what people say to a bot that isn't a command (greetings, thanks) gets a short friendly answer, not
"I didn't understand that"."""

from __future__ import annotations

import re

_WORDS = re.compile(r"[^\w' ]+")
GREETINGS = frozenset(
    {"hi", "hello", "hey", "hiya", "yo", "good morning", "good afternoon", "good evening", "morning", "hi there"}
)
THANKS = frozenset({"thanks", "thank you", "thx", "ty", "cheers", "thanks a lot", "thank you very much", "great"})
GOODBYES = frozenset({"bye", "goodbye", "see you", "ok", "okay", "cool", "nice", "got it"})
HELP_HINT = "Type help to see what I can do."


def _plain(text: str) -> str:
    """Lower case, punctuation and emoji dropped, spaces folded: "Thanks!! 🙏" -> "thanks"."""
    return " ".join(_WORDS.sub(" ", text.lower()).split())


def small_talk(text: str, first_name: str | None, *, personal: bool) -> str | None:
    """The answer to a greeting, a thanks or a sign-off, or None when ``text`` is none of those. In a chat with
    Courier alone a greeting says how to start; in a group it stays short."""
    said = _plain(text)
    if said in GREETINGS or (said.split(" ", 1)[0] in {"hi", "hello", "hey"} and len(said.split()) <= 3):
        hello = f"Hi {first_name}!" if first_name else "Hi!"
        return f"{hello} {HELP_HINT}" if personal else f"{hello} Mention me with help to see what I can do."
    if said in THANKS or said.startswith("thank"):
        return "You're welcome!"
    if said in GOODBYES:
        return "\U0001f44d"
    return None


def shared_something() -> str:
    """A message with a card or file and no words (e.g. a card inserted from a messaging extension)."""
    return f"Got it. {HELP_HINT}"
