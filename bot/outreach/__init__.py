"""Outreach: proactive notifications at Teams' rate limits, exactly once, with delivery and acknowledgement tracking."""
