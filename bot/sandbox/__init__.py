"""A local Microsoft 365 for trying Courier without a tenant (``python app.py sandbox``).

``bot.sandbox.emulators`` holds stand-ins for Entra, the Bot Framework channel and connector, and Microsoft Graph:
real HTTP on 127.0.0.1, real wire formats, real tokens and limits. The test suite runs Courier against the same
emulators. Nothing in the platform or the features imports this package.
"""
