"""AWS CloudWatch error codes, with their HTTP statuses, as one exception."""

from __future__ import annotations

from typing import Literal

FaultType = Literal["Sender", "Receiver"]

# Code -> (HTTP status, fault type). The codes are the ones AWS CloudWatch
# documents for the Query API; RequestEntityTooLarge is what AWS front ends
# answer for a body over the service limit.
CODES: dict[str, tuple[int, FaultType]] = {
    "InvalidParameterValue": (400, "Sender"),
    "InvalidParameterCombination": (400, "Sender"),
    "MissingParameter": (400, "Sender"),
    "MissingAction": (400, "Sender"),
    "InvalidAction": (400, "Sender"),
    "InvalidQueryParameter": (400, "Sender"),
    "MalformedQueryString": (400, "Sender"),
    "NoSuchVersion": (400, "Sender"),
    "InvalidFormat": (400, "Sender"),
    "InvalidNextToken": (400, "Sender"),
    "LimitExceeded": (400, "Sender"),
    "ResourceNotFound": (404, "Sender"),
    "RequestEntityTooLarge": (413, "Sender"),
    "InternalFailure": (500, "Receiver"),
    "ServiceUnavailable": (503, "Receiver"),
}


class CloudWatchError(Exception):
    """One AWS error: becomes an ``<ErrorResponse>`` with ``status``."""

    def __init__(self, code: str, message: str) -> None:
        if code not in CODES:
            raise ValueError(f"CloudWatchError.code: must be one of {sorted(CODES)} (got {code!r})")
        super().__init__(code, message)
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        return CODES[self.code][0]

    @property
    def fault_type(self) -> FaultType:
        return CODES[self.code][1]

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def invalid_value(path: str, must: str, got: object) -> CloudWatchError:
    """``path: must ... (got ...)``, the house form of a bad value."""
    return CloudWatchError("InvalidParameterValue", f"{path}: must {must} (got {_show(got)})")


def missing(path: str) -> CloudWatchError:
    return CloudWatchError("MissingParameter",
                           f"The request must contain the parameter {path}")


def combination(message: str) -> CloudWatchError:
    return CloudWatchError("InvalidParameterCombination", message)


def _show(value: object) -> str:
    text = repr(value)
    # Error messages echo input back; keep a hostile 1 MB value out of logs.
    return text if len(text) <= 120 else text[:117] + "..."
