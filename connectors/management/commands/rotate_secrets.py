"""manage.py rotate_secrets: re-encrypt every stored secret with the first ENCRYPTION_KEYS key."""

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from common.crypto import EncryptedTextField


class Command(BaseCommand):
    help = (
        "Re-encrypt all secrets with the first key of ENCRYPTION_KEYS. Rotate keys by putting "
        "the new key first, running this command, then removing the old key."
    )

    def handle(self, *args, **options):
        rows = secrets = 0
        with transaction.atomic():
            for model in apps.get_models():
                names = [
                    f.name for f in model._meta.get_fields() if isinstance(f, EncryptedTextField)
                ]
                if not names:
                    continue
                manager = model._base_manager
                # Reading decrypts with any key; update() encrypts with the first one, and
                # leaves the other columns (updated_at included) alone.
                for pk, *values in manager.values_list("pk", *names).iterator():
                    changed = {
                        name: value for name, value in zip(names, values, strict=True) if value
                    }
                    if changed:
                        manager.filter(pk=pk).update(**changed)
                        rows += 1
                        secrets += len(changed)
        self.stdout.write(f"Re-encrypted {secrets} secrets in {rows} rows.")
