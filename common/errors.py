"""The base of the errors services raise for their callers to show.

Each app's errors extend ServiceError and say which HTTP status they are, so the API's error
handler (common/api/errors.py) maps them without knowing the apps.
"""


class ServiceError(Exception):
    """A failure the caller should show as it is: `message` is for people, `status_code` is
    the HTTP status the API answers with when no view handled it."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
