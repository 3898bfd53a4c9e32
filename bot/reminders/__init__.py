"""Reminders: for oneself, for someone else, for a chat or a channel; in words, from a card or from a message."""
