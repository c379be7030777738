"""Converting CSV cells to field values and back, with Salesforce's row error messages."""

import datetime
import math
import re
from decimal import Decimal

from .ids import is_well_formed, to_18

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# yyyy-MM-dd ("Valid Date Format in Records"); the trailing Z of the older yyyy-MM-ddZ form
# is still in the documentation's sample CSV files (1940-06-07Z), so it is taken too.
DATE_PATTERN = re.compile(r"^(\d{4}-\d{2}-\d{2})Z?$")
DATETIME_PATTERN = re.compile(
    r"^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})?$"
)
TEXT_TYPES = ("string", "textarea", "email", "phone", "url", "picklist")
NUMBER_TYPES = ("double", "currency", "percent")


class JobFailure(Exception):
    """The whole job fails: state Failed with this errorMessage, every row unprocessed."""


class RowError(Exception):
    """A per-row failure; `str()` is the sf__Error cell, `CODE:message:fields --`."""

    def __init__(self, code: str, message: str, fields: list[str] | None = None) -> None:
        self.code = code
        self.message = message
        self.fields = fields or []
        super().__init__(self.cell())

    def cell(self) -> str:
        field_list = ",".join(self.fields)
        return f"{self.code}:{self.message}:{field_list + ' ' if field_list else ''}--"


def deserialize_error(text: str, field: dict, column: int) -> RowError:
    # Observed Bulk API wording for a cell of the wrong type (the column index is 0-based),
    # e.g. "INVALID_FIELD:Failed to deserialize field at col 0. Due to, '2018-09-28' is not a
    # valid value for the type xsd:dateTime:CreatedDate --" (SFDO-Tooling/Snowfakery#793).
    return RowError(
        "INVALID_FIELD",
        f"Failed to deserialize field at col {column}. Due to, '{text}' is not a valid value "
        f"for the type {field['soapType']}",
        [field["name"]],
    )


def parse_cell(text: str, field: dict, *, column: int, schema=None):
    """The stored value for a non-empty, non-#N/A cell of `field`; raises RowError."""
    field_type = field["type"]
    name = field["name"]
    if field_type in TEXT_TYPES:
        if len(text) > field["length"]:
            raise RowError(
                "STRING_TOO_LONG",
                f"{field['label']}: data value too large: {text} (max length={field['length']})",
                [name],
            )
        if field_type == "email" and not EMAIL_PATTERN.match(text):
            raise RowError(
                "INVALID_EMAIL_ADDRESS", f"{field['label']}: invalid email address: {text}", [name]
            )
        if field_type == "picklist" and field["restrictedPicklist"]:
            allowed = {value["value"] for value in field["picklistValues"]}
            if text not in allowed:
                raise RowError(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"bad value for restricted picklist field: {text}",
                    [name],
                )
        return text
    if field_type == "boolean":
        lowered = text.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise deserialize_error(text, field, column)
    if field_type == "date":
        match = DATE_PATTERN.match(text)
        if not match:
            raise deserialize_error(text, field, column)
        try:
            return datetime.date.fromisoformat(match.group(1)).isoformat()
        except ValueError:
            raise deserialize_error(text, field, column) from None
    if field_type == "datetime":
        return parse_datetime(text, field, column)
    if field_type in NUMBER_TYPES:
        try:
            number = float(text)
        except ValueError:
            raise deserialize_error(text, field, column) from None
        if math.isnan(number) or math.isinf(number):
            raise deserialize_error(text, field, column)
        return number
    if field_type == "int":
        try:
            return int(text)
        except ValueError:
            raise deserialize_error(text, field, column) from None
    if field_type in ("reference", "id"):
        target_prefixes = None
        if schema is not None and field["referenceTo"]:
            target_prefixes = [schema.key_prefix(target) for target in field["referenceTo"]]
        if not is_well_formed(text) or (
            target_prefixes and not any(text.startswith(prefix) for prefix in target_prefixes)
        ):
            raise RowError(
                "MALFORMED_ID", f"{field['label']}: id value of incorrect type: {text}", [name]
            )
        return to_18(text)
    raise AssertionError(f"unhandled field type {field_type}")


def parse_datetime(text: str, field: dict, column: int) -> str:
    """Normalise a dateTime cell to UTC, stored as yyyy-MM-ddTHH:mm:ss.SSS+0000."""
    match = DATETIME_PATTERN.match(text)
    if not match:
        raise deserialize_error(text, field, column)
    date_part, hours, minutes, seconds, fraction, zone = match.groups()
    try:
        offset = datetime.timedelta(0)
        if zone and zone != "Z":
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            offset = sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        moment = datetime.datetime.combine(
            datetime.date.fromisoformat(date_part),
            datetime.time(int(hours), int(minutes), int(seconds)),
            tzinfo=datetime.timezone(offset),
        )
    except ValueError:
        raise deserialize_error(text, field, column) from None
    milliseconds = int((fraction or ".0")[1:].ljust(3, "0"))
    utc = moment.astimezone(datetime.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + f".{milliseconds:03d}+0000"


def java_double(number: float) -> str:
    """Java's Double.toString: how Salesforce echoes numbers (912260031 -> 9.12260031E8)."""
    if number == 0:
        return "0.0"
    if 1e-3 <= abs(number) < 1e7:
        return repr(float(number))
    # Outside that range Java prints the shortest round-tripping digits as d.dddEn.
    sign, digits, exponent = Decimal(repr(float(number))).normalize().as_tuple()
    text = "".join(str(digit) for digit in digits)
    scientific_exponent = len(text) + exponent - 1
    mantissa = text[0] + "." + (text[1:] or "0")
    return f"{'-' if sign else ''}{mantissa}E{scientific_exponent}"


def format_value(value, field: dict) -> str:
    """A stored value as Salesforce writes it in result and query CSVs."""
    if value is None:
        return ""
    if field["type"] == "boolean":
        return "true" if value else "false"
    if field["type"] in NUMBER_TYPES:
        return java_double(value)
    if field["type"] == "datetime":
        # Query results print UTC with a Z: 2024-01-02T03:04:05.000Z.
        return value.replace("+0000", "Z")
    return str(value)
