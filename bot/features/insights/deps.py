"""What the insights handlers need beside the platform's services: built once by the feature."""

from __future__ import annotations

from dataclasses import dataclass

from bot.features.insights.runtime import InsightsRuntime
from bot.features.insights.service import InsightsService
from bot.features.insights.store import InsightsStore


@dataclass(frozen=True, slots=True)
class InsightsDeps:
    store: InsightsStore  # channel messages and opt-outs
    service: InsightsService
    runtime: InsightsRuntime  # channel backfills in the background
