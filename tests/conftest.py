"""Shared test set-up: the Microsoft emulators as fixtures."""

pytest_plugins = ["tests.emulators.fixtures"]
