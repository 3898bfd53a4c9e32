"""Emulators of the Microsoft services Courier talks to (Entra, Bot Framework channel/connector, Graph)."""
