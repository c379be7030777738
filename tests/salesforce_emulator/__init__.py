"""An emulator of Salesforce's HTTP API (login, OAuth, describe, Bulk API 2.0). OWNER: helper B1."""

from .server import SalesforceEmulator

__all__ = ["SalesforceEmulator"]
