"""API token authentication: django-rest-knox's, hardened against malformed headers.

Kept apart from common/api.py because DRF imports authentication classes while its own views
module loads, so this module must import nothing that imports rest_framework.views.
"""

import re

import knox.auth
from rest_framework import exceptions

# knox tokens are hex; anything but printable ASCII cannot be one.
TOKEN_PATTERN = re.compile(rb"[\x21-\x7e]{1,512}")


class TokenAuthentication(knox.auth.TokenAuthentication):
    """knox's `Authorization: Token <token>`, refusing malformed tokens up front: knox decodes
    them as UTF-8 (bad bytes were a 500) and PostgreSQL rejects NUL characters in a lookup."""

    def authenticate_credentials(self, token: bytes):
        if not TOKEN_PATTERN.fullmatch(token):
            raise exceptions.AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(token)
