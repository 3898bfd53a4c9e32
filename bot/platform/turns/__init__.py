"""Handling an inbound turn: middleware, dispatch to the routes, the handler context and its guards."""
