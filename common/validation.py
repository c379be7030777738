"""One error type for the pure validators, carrying messages keyed by the path of what failed.

Paths look like `columns[2].output` or `conditions[0].conditions[1].value`, so the API can
answer `output_mapping.columns[2].output` and a form can put the message next to its field.
"""


class InvalidInput(Exception):
    """Raised by a validator with every problem it found, keyed by path."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{path}: {' '.join(msgs)}" for path, msgs in errors.items()))

    def prefixed(self, prefix: str) -> dict[str, list[str]]:
        """The errors with `prefix` joined in front of every path."""
        result = {}
        for path, messages in self.errors.items():
            if not path:
                key = prefix
            elif path.startswith("["):
                key = f"{prefix}{path}"
            else:
                key = f"{prefix}.{path}" if prefix else path
            result[key] = messages
        return result


class ErrorCollector:
    """Collects messages by path while a validator walks its input."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise InvalidInput(self.errors)
