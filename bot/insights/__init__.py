"""Channel insights: activity measured over the channel messages Courier sees (read-only)."""
