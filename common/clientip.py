"""Who is asking: the client's address, as far as the configured proxies can vouch for it.

Anyone can send `X-Forwarded-For`, so it is believed only as far as TRUSTED_PROXY_COUNT
says: with no proxy (the default) the address is the socket's (REMOTE_ADDR) and the header is
ignored; behind N proxies, each appending the address it received from, the client is the
N-th address from the right. Whatever a client writes further left is never read.
"""

import ipaddress

from django.conf import settings


def client_ip(request) -> str:
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if proxies <= 0:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
    if not addresses:
        return remote
    candidate = addresses[-min(proxies, len(addresses))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote  # a garbled header must not become a fresh identity per request
