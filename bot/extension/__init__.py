"""The messaging extension: query and action commands declared in the Teams manifest."""
