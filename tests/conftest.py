"""Shared test set-up: the Microsoft emulators, the bot rigs and the two databases, as fixtures everywhere."""

pytest_plugins = [
    "tests.emulators.fixtures",
    "tests.support.clock",
    "tests.support.bot",
    "tests.support.live",
    "tests.support.signin",
    "tests.support.console",
    "tests.support.databases",
]
