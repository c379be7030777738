"""Showing a service's InvalidInput errors on a Django form, next to the fields their paths name."""

from common.validation import InvalidInput


class ServiceErrorsMixin:
    """For forms that build a payload and hand it to a service.

    `field_paths` maps a payload path (`export.object`) to the form field that edits it
    (`object_name`). A deeper path (`notifications.emails[3]`, `schedule.cron.minute`) lands on
    the field of its nearest mapped ancestor. Every other path is returned to the caller, which
    draws it next to the rows it renders itself (mapping columns, rule conditions).
    """

    field_paths: dict[str, str] = {}

    def add_service_errors(self, error: InvalidInput) -> dict[str, list[str]]:
        unclaimed: dict[str, list[str]] = {}
        for path, messages in error.errors.items():
            field, rest = self.field_for_path(path)
            if field is None:
                unclaimed[path] = list(messages)
                continue
            # `schedule.cron.minute` lands on the cron field as "minute: ...".
            where = rest.replace("_", " ") + ": " if rest and not rest.startswith("[") else ""
            for message in messages:
                self.add_error(field, where + message)
        return unclaimed

    def field_for_path(self, path: str) -> tuple[str | None, str]:
        """The field editing `path` or its nearest mapped ancestor, and the rest of the path."""
        candidate = path
        while candidate:
            if candidate in self.field_paths:
                return self.field_paths[candidate], path[len(candidate) :].lstrip(".")
            cut = max(candidate.rfind("."), candidate.rfind("["))
            if cut <= 0:
                break
            candidate = candidate[:cut]
        return None, ""
