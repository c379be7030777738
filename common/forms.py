"""Showing a service's InvalidInput errors on a Django form, next to the fields their paths name."""

from common.validation import InvalidInput


class ServiceErrorsMixin:
    """For forms that build a payload and hand it to a service.

    `field_paths` maps a payload path (`export.object`) to the form field that edits it
    (`object_name`). A path `a.b[3]` or `a.b[3].c` whose base `a.b` is mapped lands on that field
    too (a list edited in one input). Every other path is returned to the caller, which draws
    it next to the rows it renders itself (mapping columns, rule conditions).
    """

    field_paths: dict[str, str] = {}

    def add_service_errors(self, error: InvalidInput) -> dict[str, list[str]]:
        unclaimed: dict[str, list[str]] = {}
        for path, messages in error.errors.items():
            field = self.field_for_path(path)
            if field is None:
                unclaimed[path] = list(messages)
            else:
                for message in messages:
                    self.add_error(field, message)
        return unclaimed

    def field_for_path(self, path: str) -> str | None:
        if path in self.field_paths:
            return self.field_paths[path]
        base = path.split("[", 1)[0]
        if base != path and base in self.field_paths:
            return self.field_paths[base]
        return None
