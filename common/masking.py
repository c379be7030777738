"""Hiding secrets in text that may quote them: an error from the remote end, a run's log.

A remote end may echo a secret encoded (url-encoded in a redirect, XML-escaped in a SOAP
fault, JSON-escaped in a REST error, base64 in a Basic header), so each secret is hidden in
every one of those forms, not only as typed.
"""

import base64
import html
import json
from collections.abc import Iterable
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape as xml_escape

HIDDEN = "[hidden]"
# Very short values would blank out ordinary words; a real secret is longer.
MIN_SECRET_LENGTH = 4


def encoded_forms(secret: str) -> set[str]:
    """The secret as typed and in each encoding a remote end may echo it in."""
    raw = secret.encode("utf-8")
    forms = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        quote(secret),
        xml_escape(secret),
        xml_escape(secret, {'"': "&quot;", "'": "&apos;"}),
        html.escape(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        base64.b64encode(raw).decode("ascii"),
        base64.urlsafe_b64encode(raw).decode("ascii"),
    }
    forms |= {form.rstrip("=") for form in forms if form.endswith("=")}
    forms |= _base64_inside_longer_values(raw)
    # Percent-escapes come in either case (%2F or %2f).
    forms |= {form.lower() for form in forms if "%" in form}
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    """`text` with every form of every secret replaced by "[hidden]", longest first so a
    secret that contains another is hidden whole."""
    forms: set[str] = set()
    for secret in secrets:
        if secret and len(secret) >= MIN_SECRET_LENGTH:
            forms |= encoded_forms(secret)
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, HIDDEN)
    return text


def _base64_inside_longer_values(raw: bytes) -> set[str]:
    """The base64 characters that depend on the secret alone when it sits inside a longer
    encoded value (`user:secret` in a Basic header): one run per alignment of its bytes."""
    runs = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode("ascii")
        start = 4 if offset else 0  # the first group mixes the secret with what precedes it
        end = (offset + len(raw)) // 3 * 4  # the last full group holds only secret bytes
        inner = encoded[start:end]
        if len(inner) >= 8:
            runs.add(inner)
    return runs
