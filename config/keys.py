"""The public development keys must never protect a real deployment.

`config/settings.py` holds a development SECRET_KEY and Fernet key so that a checkout runs
with no setup; anyone can read them. A serving process (the WSGI/ASGI application, which
`runserver` and gunicorn load, and the Celery worker and beat) refuses to start with either
of them whenever DEBUG is off, whatever SITE_URL says. Management commands (migrate,
collectstatic, makemigrations in CI) still work without keys, and `check --deploy` warns.
`bin/serve` generates keys of its own under var/ on first start.
"""

from django.conf import settings
from django.core.checks import Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured


def development_keys_in_use() -> list[str]:
    """The settings that still hold a public development key (the encrypting one: the
    development Fernet key may stay as a later, decrypt-only key while secrets are rotated)."""
    in_use = []
    if settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY:
        in_use.append("SECRET_KEY")
    if settings.ENCRYPTION_KEYS[0] == settings.DEVELOPMENT_ENCRYPTION_KEY:
        in_use.append("ENCRYPTION_KEYS")
    return in_use


def refuse_development_keys() -> None:
    """Raise ImproperlyConfigured when a serving process would run on a public key."""
    if settings.DEBUG:
        return
    in_use = development_keys_in_use()
    if in_use:
        names = " and ".join(in_use)
        raise ImproperlyConfigured(
            f"{names} still hold{'s' if len(in_use) == 1 else ''} the public development key "
            "and DEBUG is off: set "
            + " and ".join(f"{name} to a key of your own" for name in in_use)
            + " (or DEBUG=true on a laptop)."
        )


@register(Tags.security, deploy=True)
def check_encryption_key(app_configs, **kwargs):
    """`check --deploy` on the encryption key, as Django's security.W009 on SECRET_KEY."""
    if (
        settings.ENCRYPTION_KEYS
        and settings.ENCRYPTION_KEYS[0] == settings.DEVELOPMENT_ENCRYPTION_KEY
    ):
        return [
            Warning(
                "Your ENCRYPTION_KEYS setting encrypts with the public development key from "
                "config/settings.py: anyone can decrypt the stored connection secrets.",
                hint="Set ENCRYPTION_KEYS to a Fernet key of your own "
                "(Fernet.generate_key()), then run `manage.py rotate_secrets`.",
                id="keys.W001",
            )
        ]
    return []
