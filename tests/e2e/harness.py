"""Compatibility: ``tests/http/test_process.py`` imports ``ROOT`` and ``start_bot`` from here.

The harness lives in :mod:`tests.e2e.playground`; delete this module once that import points there.
"""

from tests.e2e.playground import ROOT, BotProcess, start_bot

__all__ = ["ROOT", "BotProcess", "start_bot"]
