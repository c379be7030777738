"""The source form: name, URL, password (write-only) and options as JSON."""

import json

from django import forms

from common.forms import ServiceErrorsMixin


class SourceForm(ServiceErrorsMixin, forms.Form):
    name = forms.CharField(max_length=200)
    url = forms.CharField(
        label="URL",
        max_length=2000,
        help_text=(
            "A SQLAlchemy URL without the password, e.g. postgresql://reader@db.example.com/shop, "
            "or sqlite:///file.db (a file under SOURCE_FILE_ROOT)."
        ),
    )
    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        strip=False,
        help_text="Stored encrypted and never shown. Leave blank to keep the stored one.",
    )
    options = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text='Driver options as JSON, e.g. {"sslmode": "require"}; secret ones are encrypted.',
    )

    field_paths = {"name": "name", "url": "url", "password": "password", "options": "options"}

    def clean_options(self):
        text = self.cleaned_data["options"].strip()
        if not text:
            return None
        try:
            value = json.loads(text)
        except ValueError:
            raise forms.ValidationError("Not valid JSON.") from None
        if not isinstance(value, dict):
            raise forms.ValidationError(
                'An object of names to values, e.g. {"sslmode": "require"}.'
            )
        return value

    def payload(self) -> dict:
        data = {"name": self.cleaned_data["name"], "url": self.cleaned_data["url"]}
        if self.cleaned_data["password"]:
            data["password"] = self.cleaned_data["password"]
        if self.cleaned_data["options"] is not None:
            data["options"] = self.cleaned_data["options"]
        return data
