"""The connection form: secrets are never drawn back; a blank secret keeps the stored one."""

from django import forms

from common.forms import ServiceErrorsMixin

from .models import Connection


def secret_input() -> forms.PasswordInput:
    return forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})


class ConnectionForm(ServiceErrorsMixin, forms.Form):
    name = forms.CharField(max_length=200)
    login_url = forms.CharField(
        max_length=500,
        label="Login URL",
        initial="https://login.salesforce.com",
        help_text="https://login.salesforce.com, https://test.salesforce.com or your My Domain "
        "URL; for Session ID, the instance URL.",
        widget=forms.URLInput,
    )
    auth_method = forms.ChoiceField(
        choices=Connection.AuthMethod.choices,
        label="Authentication",
        initial=Connection.AuthMethod.CREDENTIALS,
    )
    username = forms.CharField(max_length=255, required=False)
    password = forms.CharField(required=False, widget=secret_input(), strip=False)
    security_token = forms.CharField(
        required=False,
        widget=secret_input(),
        strip=False,
        help_text="Leave blank if it is appended to the password.",
    )
    client_id = forms.CharField(max_length=255, required=False, label="Client ID")
    client_secret = forms.CharField(
        required=False, widget=secret_input(), strip=False, label="Client secret"
    )
    refresh_token = forms.CharField(
        required=False,
        widget=secret_input(),
        strip=False,
        help_text="Filled in by “Connect to Salesforce”; paste one only if you have it.",
    )
    session_id = forms.CharField(
        required=False, widget=secret_input(), strip=False, label="Session ID"
    )
    retry_initial_delay = forms.FloatField(
        min_value=0,
        initial=1.0,
        label="Initial retry delay (seconds)",
        help_text="Before the first retry of a failed connection; doubles each time.",
    )
    retry_limit = forms.IntegerField(min_value=0, initial=3, label="Retry limit")

    field_paths = {
        name: name
        for name in (
            "name",
            "login_url",
            "auth_method",
            "username",
            "client_id",
            "retry_initial_delay",
            "retry_limit",
            *Connection.SECRET_FIELDS,
        )
    }

    def __init__(self, *args, instance: Connection | None = None, **kwargs) -> None:
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                name: getattr(instance, name)
                for name in self.field_paths
                if name not in Connection.SECRET_FIELDS
            }
        super().__init__(*args, **kwargs)
        self.instance = instance
        self.secrets_set = instance.secrets_set() if instance else {}
        for name in Connection.SECRET_FIELDS:
            if self.secrets_set.get(name):
                self.fields[name].widget.attrs["placeholder"] = "Set — leave blank to keep"

    def payload(self) -> dict:
        """The service's data: blank secrets are left out, so the stored ones are kept."""
        data = {
            name: value
            for name, value in self.cleaned_data.items()
            if name not in Connection.SECRET_FIELDS
        }
        data["kind"] = "salesforce"
        for name in Connection.SECRET_FIELDS:
            if self.cleaned_data.get(name):
                data[name] = self.cleaned_data[name]
        return data

    def show_service_errors(self, error) -> None:
        for path, messages in self.add_service_errors(error).items():
            self.add_error(None, f"{path}: {' '.join(messages)}" if path else " ".join(messages))
