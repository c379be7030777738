"""API tokens end with the credentials they were issued for.

A knox token stays valid until it expires, whatever happens to the user's password: a token
leaked or left on an old laptop would outlive the password change meant to lock it out. So
every token of a user is deleted when the user's password changes or the user is deactivated
(in the admin, `changepassword`, the API or any other `save()`). A bulk `update()` fires no
signal: call `revoke_tokens` yourself there.
"""

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save, pre_save
from knox.models import AuthToken


def revoke_tokens(user) -> int:
    """Delete every API token of `user`; the number deleted."""
    deleted, _ = AuthToken.objects.filter(user=user).delete()
    return deleted


def remember_credentials(sender, instance, **kwargs):
    if instance.pk is None:
        instance._tokens_must_go = False
        return
    stored = sender._default_manager.filter(pk=instance.pk).values("password", "is_active").first()
    instance._tokens_must_go = stored is not None and (
        stored["password"] != instance.password or (stored["is_active"] and not instance.is_active)
    )


def revoke_tokens_after_credential_change(sender, instance, created, **kwargs):
    if not created and getattr(instance, "_tokens_must_go", False):
        revoke_tokens(instance)
        instance._tokens_must_go = False


def connect() -> None:
    user_model = get_user_model()
    pre_save.connect(remember_credentials, sender=user_model, dispatch_uid="tokens-remember")
    post_save.connect(
        revoke_tokens_after_credential_change, sender=user_model, dispatch_uid="tokens-revoke"
    )
