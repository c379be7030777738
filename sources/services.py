"""Creating and changing sources: the URL checked, the password and secret options split off
and stored encrypted, the URL stored without them."""

import json

from django.db import transaction

from common.validation import ErrorCollector, InvalidInput

from . import access
from .models import Source

NAME_MAX_LENGTH = 200
URL_MAX_LENGTH = 1000
# An option whose name contains one of these is a secret: stored encrypted, never shown back.
SECRET_OPTION_WORDS = ("password", "secret", "token", "private_key", "credentials", "key_file")
MAX_OPTIONS = 50


def is_secret_option(name: str) -> bool:
    return any(word in name.lower() for word in SECRET_OPTION_WORDS)


def create_source(*, workspace, data: dict) -> Source:
    """Create a source from {"name", "url", "password"?, "options"?}. Raises InvalidInput."""
    source = Source(workspace=workspace)
    _apply(source, data, creating=True)
    with transaction.atomic():
        source.save()
    return source


def update_source(source: Source, *, data: dict) -> Source:
    """Change a source; keys left out keep their value, a blank password keeps the stored one
    (the URL of another host drops it, so a password is never sent to a host it was not
    given for). Raises InvalidInput."""
    with transaction.atomic():
        source = Source.objects.select_for_update().get(pk=source.pk)
        _apply(source, data, creating=False)
        source.save()
    return source


def _apply(source: Source, data: dict, *, creating: bool) -> None:
    errors = ErrorCollector()
    if creating or "name" in data:
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            errors.add("name", "required")
        elif len(name.strip()) > NAME_MAX_LENGTH:
            errors.add("name", f"at most {NAME_MAX_LENGTH} characters")
        else:
            taken = Source.objects.filter(workspace=source.workspace, name=name.strip())
            if source.pk is not None:
                taken = taken.exclude(pk=source.pk)
            if taken.exists():
                errors.add("name", f"a source named {name.strip()!r} already exists here")
            source.name = name.strip()

    password = data.get("password") or ""
    if not isinstance(password, str):
        errors.add("password", "must be text")
        password = ""
    if creating or "url" in data:
        try:
            url = access.parse_url(data.get("url"))
        except InvalidInput as invalid:
            for path, messages in invalid.errors.items():
                for message in messages:
                    errors.add(path, message)
        else:
            if url.password:
                password = password or url.password
                url = access.without_password(url)
            stored = url.render_as_string(hide_password=False)
            if len(stored) > URL_MAX_LENGTH:
                errors.add("url", f"at most {URL_MAX_LENGTH} characters")
            old_host = access.parse_url(source.url).host if source.url else None
            if not creating and url.host != old_host and not password:
                source.password = ""
            source.url = stored
            source.kind = access.kind_of(url)
    if password:
        source.password = password

    if "options" in data:
        _apply_options(source, data["options"], errors)
    errors.raise_if_any()
    try:
        access.check_url(access.full_url(source))
    except InvalidInput as invalid:
        raise InvalidInput(invalid.errors) from None


def _apply_options(source: Source, options, errors: ErrorCollector) -> None:
    if options is None:
        options = {}
    if not isinstance(options, dict):
        errors.add("options", "must be an object of option names to values")
        return
    if len(options) > MAX_OPTIONS:
        errors.add("options", f"at most {MAX_OPTIONS} options")
        return
    plain, secret = {}, source.secret_option_values()
    for name, value in options.items():
        if not isinstance(value, str | int | float | bool) or isinstance(value, dict):
            errors.add(f"options.{name}", "must be text, a number or true/false")
            continue
        if is_secret_option(name):
            if value not in ("", True, False):  # a response's "set" flag sent back keeps it
                secret[name] = value
        else:
            plain[name] = value
    # Secret options not sent again are dropped, except those the caller echoed back.
    secret = {k: v for k, v in secret.items() if k in options}
    source.options = plain
    source.secret_options = json.dumps(secret) if secret else ""
