from django import forms
from django.contrib import admin

from .models import Connection


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
        return cleaned


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    form = ConnectionAdminForm
    list_display = ["name", "workspace", "kind", "auth_method", "login_url"]
    list_filter = ["workspace", "auth_method"]
