"""The reminder grammar in each language Courier speaks: who ("me", "here"), the word between the schedule and the
text ("to"), "every", and the schedule's words, rewritten to the English rules :mod:`bot.features.reminders.parse`
applies (dates themselves go to dateparser in the person's language).

    remind me tomorrow at 9:00 to send the report         remind me every Monday at 10:00 to post the standup
    erinnere mich morgen um 9 an den Bericht              erinnere mich jeden Montag um 10 an das Standup
    rappelle-moi demain à 9h de envoyer le rapport        rappelle-moi chaque lundi à 10h de poster le standup
    recuérdame mañana a las 9 que envíe el informe        recuérdame cada lunes a las 10 que publique el standup
    lembre-me amanhã às 9 de enviar o relatório           lembre-me toda segunda às 10 de postar o standup
    リマインド 明日9時に 報告書を送る                        リマインド 毎週月曜10時に 朝会を投稿する
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_CLOCK = r"(\d{1,2})(?:[:h](\d{2})?)?"


@dataclass(frozen=True, slots=True)
class Grammar:
    language: str  # dateparser's code for it
    me: tuple[str, ...] = ("me",)
    here: tuple[str, ...] = ("here", "#channel", "this channel")
    to: tuple[str, ...] = ()  # separators between the schedule and the text (English has its own rules)
    commands: tuple[str, ...] = ()  # the command words that speak this grammar
    implicit_me: bool = False  # the command word already says "me" (rappelle-moi, recuérdame): who is optional
    # (pattern, replacement) turning the schedule's words into the English the rules read, in order
    rewrites: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def to_english(self, schedule: str) -> str:
        """The schedule with local clock times as ``at HH:MM`` and repetition words in English."""
        words = schedule.lower().strip()
        for pattern, replacement in self.rewrites:
            words = re.sub(pattern, replacement, words)
        return " ".join(words.split())


def _clock(prefix: str, suffix: str = "") -> tuple[str, str]:
    """``um 9`` / ``à 9h30`` / ``a las 9:15`` -> `` at 9:30``."""
    return rf"(?:{prefix})\s*{_CLOCK}\s*(?:{suffix})?" if suffix else rf"(?:{prefix})\s*{_CLOCK}", r" at \1:\2 "


def _fix_minutes(words: str) -> str:
    return re.sub(r"at (\d{1,2}):(?=\s|$)", r"at \1:00", words)


_DAYS_DE = {"montag": "monday", "dienstag": "tuesday", "mittwoch": "wednesday", "donnerstag": "thursday"}
_DAYS_DE |= {"freitag": "friday", "samstag": "saturday", "sonntag": "sunday"}
_DAYS_FR = {"lundi": "monday", "mardi": "tuesday", "mercredi": "wednesday", "jeudi": "thursday"}
_DAYS_FR |= {"vendredi": "friday", "samedi": "saturday", "dimanche": "sunday"}
_DAYS_ES = {"lunes": "monday", "martes": "tuesday", "miércoles": "wednesday", "miercoles": "wednesday"}
_DAYS_ES |= {"jueves": "thursday", "viernes": "friday", "sábado": "saturday", "sabado": "saturday", "domingo": "sunday"}
_DAYS_PT = {"segunda-feira": "monday", "terça-feira": "tuesday", "quarta-feira": "wednesday"}
_DAYS_PT |= {"quinta-feira": "thursday", "sexta-feira": "friday", "segunda": "monday", "terça": "tuesday"}
_DAYS_PT |= {"terca": "tuesday", "quarta": "wednesday", "quinta": "thursday", "sexta": "friday"}
_DAYS_PT |= {"sábado": "saturday", "sabado": "saturday", "domingo": "sunday"}
_DAYS_JA = {"月曜日": "monday", "火曜日": "tuesday", "水曜日": "wednesday", "木曜日": "thursday", "金曜日": "friday"}
_DAYS_JA |= {"土曜日": "saturday", "日曜日": "sunday", "月曜": "monday", "火曜": "tuesday", "水曜": "wednesday"}
_DAYS_JA |= {"木曜": "thursday", "金曜": "friday", "土曜": "saturday", "日曜": "sunday"}


def _words(table: dict[str, str]) -> tuple[tuple[str, str], ...]:
    # Longest first, so "segunda-feira" wins over "segunda".
    return tuple((rf"(?<!\w){re.escape(k)}(?!\w)", v) for k, v in sorted(table.items(), key=lambda kv: -len(kv[0])))


GERMAN = Grammar(
    "de",
    me=("mich",),
    here=("hier", "#channel", "diesen kanal"),
    to=(" an ", " dass ", " daran, ", " zu "),
    commands=("erinnere",),
    rewrites=(
        _clock(r"\bum", r"uhr\b"),
        (r"\b(\d{1,2})\s*uhr\b", r" at \1:00 "),
        (r"\b(jeden|jede|jedes|alle)\b", "every"),
        (r"\bwerktag(e)?\b", "weekday"),
        (r"\btag(e)?\b", "day"),
        (r"\bwochen?\b", "week"),
        (r"\bmonate?\b", "month"),
        (r"\bjahre?\b", "year"),
        (r"\bam\b", ""),
        *_words(_DAYS_DE),
    ),
)
FRENCH = Grammar(
    "fr",
    me=("moi",),
    here=("ici", "#channel", "ce canal"),
    to=(" de ", " d'", " que "),
    commands=("rappelle-moi", "rappelle"),
    implicit_me=True,
    rewrites=(
        _clock(r"\bà"),
        (r"\b(\d{1,2})h(\d{2})?\b", r" at \1:\2 "),
        (r"\b(chaque|tous les|toutes les)\b", "every"),
        (r"\bjours? ouvrés?\b", "weekday"),
        (r"\bjours?\b", "day"),
        (r"\bsemaines?\b", "week"),
        (r"\bmois\b", "month"),
        (r"\bans?\b", "year"),
        (r"\ble\b", ""),
        *_words(_DAYS_FR),
    ),
)
SPANISH = Grammar(
    "es",
    me=("me",),
    here=("aquí", "aqui", "#channel", "este canal"),
    to=(" que ", " de ", " para "),
    commands=("recuérdame", "recuerdame"),
    implicit_me=True,
    rewrites=(
        _clock(r"\ba las|\ba la"),
        (r"\b(cada|todos los|todas las)\b", "every"),
        (r"\bdías? laborables?\b", "weekday"),
        (r"\bdías?\b", "day"),
        (r"\bsemanas?\b", "week"),
        (r"\bmes(es)?\b", "month"),
        (r"\baños?\b", "year"),
        (r"\bel\b", ""),
        *_words(_DAYS_ES),
    ),
)
PORTUGUESE = Grammar(
    "pt",
    me=("me",),
    here=("aqui", "#channel", "este canal"),
    to=(" de ", " que ", " para "),
    commands=("lembre-me", "lembra-me"),
    implicit_me=True,
    rewrites=(
        _clock(r"\bàs|\bà|\bas"),
        (r"\b(\d{1,2})h(\d{2})?\b", r" at \1:\2 "),
        (r"\b(toda|todo|todas as|todos os|cada)\b", "every"),
        (r"\bdias? úteis\b", "weekday"),
        (r"\bdias?\b", "day"),
        (r"\bsemanas?\b", "week"),
        (r"\bm[eê]s(es)?\b", "month"),
        (r"\banos?\b", "year"),
        (r"\b(na|no)\b", ""),
        *_words(_DAYS_PT),
    ),
)
JAPANESE = Grammar(
    "ja",
    me=("私に",),
    here=("ここ", "このチャンネル"),
    to=("に ", " "),
    commands=("リマインド",),
    implicit_me=True,
    rewrites=(
        (r"(\d{1,2})時半", r" at \1:30 "),
        (r"(\d{1,2})時(?:(\d{1,2})分)?", r" at \1:\2 "),
        (r"(\d{1,2}):(\d{2})", r" at \1:\2 "),
        (r"毎日", " every day "),
        (r"平日", " every weekday "),
        (r"毎月", " every month "),
        (r"毎週", " every "),
        *_words(_DAYS_JA),
        (r"every (?=\s*(?:at|$))", "every week "),
        (r"に$", ""),
    ),
)
_BY_LANGUAGE = {g.language: g for g in (GERMAN, FRENCH, SPANISH, PORTUGUESE, JAPANESE)}


def grammar_for(language: str | None) -> Grammar | None:
    """The grammar for a catalogue language ("de", "pt_BR"); None for English (the parser's own rules)."""
    if not language:
        return None
    return _BY_LANGUAGE.get(language.split("_")[0].lower())


def command_words() -> tuple[str, ...]:
    """Every command word of every grammar ("erinnere", "rappelle-moi", "rappelle", ...): aliases of ``remind``."""
    return tuple(dict.fromkeys(word for g in _BY_LANGUAGE.values() for word in g.commands))


def grammar_of_command(word: str) -> Grammar | None:
    """The grammar the typed command word speaks ("erinnere" -> German); None for "remind" (English)."""
    lowered = word.lower()
    return next((g for g in _BY_LANGUAGE.values() if lowered in g.commands), None)


def rewrite(grammar: Grammar, schedule: str) -> str:
    words = grammar.to_english(schedule)
    words = re.sub(r"at (\d{1,2}):(\d{2})?", lambda m: f"at {m.group(1)}:{m.group(2) or '00'}", words)
    return _fix_minutes(words)
