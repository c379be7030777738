from django import forms
from django.contrib import admin

from common.validation import InvalidInput

from .models import Connection
from .services import checked_login_url


class ConnectionAdminForm(forms.ModelForm):
    """Secrets are write-only here too: a blank field keeps the stored value."""

    class Meta:
        model = Connection
        fields = "__all__"
        widgets = {
            name: forms.PasswordInput(render_value=False) for name in Connection.SECRET_FIELDS
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in Connection.SECRET_FIELDS:
            self.fields[name].required = False
            if self.instance.pk and getattr(self.instance, name):
                self.fields[name].help_text = "Set. Leave blank to keep it."

    def clean(self):
        cleaned = super().clean()
        for name in Connection.SECRET_FIELDS:
            if not cleaned.get(name) and self.instance.pk:
                cleaned[name] = getattr(self.instance, name)
        # The same login URL checks as the API and the UI (https, allowed hosts: no
        # requests to arbitrary hosts from the admin either).
        if cleaned.get("login_url") and cleaned.get("auth_method"):
            try:
                cleaned["login_url"] = checked_login_url(
                    cleaned["login_url"], cleaned["auth_method"]
                )
            except InvalidInput as error:
                for message in error.errors.get("login_url", []):
                    self.add_error("login_url", message)
        return cleaned


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    form = ConnectionAdminForm
    list_display = ["name", "workspace", "kind", "auth_method", "login_url"]
    list_filter = ["workspace", "auth_method"]
