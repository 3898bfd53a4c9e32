"""Courier's version, reported by /healthz and written into the Teams app package."""

VERSION = "0.1.0"
