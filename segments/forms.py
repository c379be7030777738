"""Forms for parent segments, CSV uploads and segments; they build the services' payloads."""

import json

from django import forms

from common.forms import ServiceErrorsMixin

from .models import ColumnType, ParentSegment
from .services import EMPTY_RULES

CURSOR_TYPES = (ColumnType.TIMESTAMP, ColumnType.DATE, ColumnType.INTEGER)


class ParentSegmentForm(ServiceErrorsMixin, forms.Form):
    """Name, description and key column; the typed columns come as repeated row inputs."""

    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    key_column = forms.CharField(
        max_length=100, help_text="The column that identifies a customer; one of the columns."
    )

    # Shown for a parent read from a source only (templates include it there).
    cursor_column = forms.CharField(
        max_length=100,
        required=False,
        label="Cursor column (incremental refresh)",
        help_text="With a cursor, each refresh reads only the rows whose value is above the "
        "highest one the last refresh saw, and merges them by key.",
        widget=forms.Select,
    )

    field_paths = {
        "name": "name",
        "description": "description",
        "key_column": "key_column",
        "refresh.cursor_column": "cursor_column",
    }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.column_rows: list[dict] = []
        if self.is_bound:
            names = self.data.getlist("column_name")
            types = self.data.getlist("column_type")
            # A row left blank is an unused "+ Add column" click, not a column.
            self.column_rows = [
                {"name": name.strip(), "type": column_type, "errors": {}}
                for name, column_type in zip(names, types, strict=False)
                if name.strip()
            ]
        else:
            self.column_rows = [
                {"name": column["name"], "type": column["type"], "errors": {}}
                for column in self.initial.get("columns", [])
            ]
        self.column_errors: list[str] = []
        # The columns a cursor can follow: they grow as rows change (timestamps, dates, ids).
        self.fields["cursor_column"].widget.choices = [
            ("", "None: read every row at each refresh")
        ] + [
            (row["name"], f"{row['name']} ({row['type']})")
            for row in self.column_rows
            if row["type"] in CURSOR_TYPES
        ]

    def payload(self) -> dict:
        return {
            "name": self.cleaned_data["name"],
            "description": self.cleaned_data["description"],
            "key_column": self.cleaned_data["key_column"],
            "columns": [{"name": row["name"], "type": row["type"]} for row in self.column_rows],
        }

    def has_errors(self) -> bool:
        return bool(
            self.errors or self.column_errors or any(row["errors"] for row in self.column_rows)
        )

    def show_service_errors(self, error) -> None:
        for path, messages in self.add_service_errors(error).items():
            index, field = parse_row_path(path, "columns")
            if index is not None and index < len(self.column_rows):
                self.column_rows[index]["errors"].setdefault(field or "name", []).extend(messages)
            elif path == "columns":
                self.column_errors.extend(messages)
            else:
                self.add_error(None, f"{path}: {' '.join(messages)}")


def parse_row_path(path: str, prefix: str) -> tuple[int | None, str]:
    """`columns[2].name` with prefix `columns` -> (2, "name"); anything else -> (None, "")."""
    if not path.startswith(prefix + "["):
        return None, ""
    index_text, _, rest = path[len(prefix) + 1 :].partition("]")
    if not index_text.isdigit():
        return None, ""
    return int(index_text), rest.lstrip(".")


class UploadForm(forms.Form):
    file = forms.FileField(label="CSV file", help_text="UTF-8, with a header row of column names.")
    mode = forms.ChoiceField(
        choices=[
            ("replace", "Replace all rows"),
            ("upsert", "Add new rows and update existing ones (by key)"),
        ],
        initial="replace",
        label="Import mode",
    )
    allow_empty = forms.BooleanField(
        required=False,
        label="Allow a file without rows to delete every row",
        help_text="Needed to empty the parent segment with a header-only file in replace mode.",
    )


class SegmentForm(ServiceErrorsMixin, forms.Form):
    """A segment's fields; `rules` is the rule builder's tree serialised as JSON."""

    parent_segment = forms.ModelChoiceField(
        queryset=ParentSegment.objects.none(), label="Parent segment", empty_label=None
    )
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    folder = forms.CharField(
        max_length=200,
        required=False,
        help_text="Segments are listed by folder. Pick one in use or type a new one.",
        widget=forms.TextInput(attrs={"list": "folder-choices", "autocomplete": "off"}),
    )
    rules = forms.CharField(widget=forms.HiddenInput, required=False)

    field_paths = {
        "parent_segment": "parent_segment",
        "name": "name",
        "description": "description",
        "folder": "folder",
    }

    def __init__(self, *args, parent_segments, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parent_segment"].queryset = parent_segments
        # Paths relative to the rule tree, for the builder to draw next to each condition.
        self.rule_errors: dict[str, list[str]] = {}

    def clean_rules(self) -> dict:
        text = self.cleaned_data.get("rules") or ""
        if not text.strip():
            return dict(EMPTY_RULES)
        try:
            rules = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nested absurdly deep
            raise forms.ValidationError("The rules could not be read; reload the page.") from None
        if not isinstance(rules, dict):
            raise forms.ValidationError("The rules must be a group of conditions.")
        return rules

    def rules_json(self) -> str:
        """The rule tree to draw in the builder: what the user sent, else the initial tree."""
        if self.is_bound:
            sent = self.data.get("rules") or ""
            try:
                json.loads(sent)
            except (ValueError, RecursionError):
                # Unreadable (refused by clean_rules): the builder starts from an empty tree.
                return json.dumps(EMPTY_RULES)
            return sent
        return json.dumps(self.initial.get("rules") or EMPTY_RULES)

    def payload(self) -> dict:
        return {
            "parent_segment": self.cleaned_data["parent_segment"],
            "name": self.cleaned_data["name"],
            "description": self.cleaned_data["description"],
            "folder": self.cleaned_data["folder"],
            "rules": self.cleaned_data["rules"],
        }

    def show_service_errors(self, error) -> None:
        for path, messages in self.add_service_errors(error).items():
            if path == "rules" or path.startswith(("rules.", "rules[")):
                relative = path[len("rules") :].lstrip(".")
                self.rule_errors.setdefault(relative, []).extend(messages)
            else:
                self.add_error(None, f"{path}: {' '.join(messages)}")


COLUMN_TYPE_CHOICES = ColumnType.choices
