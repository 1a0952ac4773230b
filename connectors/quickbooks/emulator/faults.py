"""QBO ``Fault`` error bodies, as JSON (the normal case) and as XML (what throttled calls often get)."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr


class Fault(Exception):
    """Raised inside the emulator; rendered as ``{"Fault": {...}, "time": ...}`` with ``status``."""

    def __init__(self, status: int, fault_type: str, code: str, message: str, detail: str = "",
                 element: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.fault_type = fault_type
        self.code = code
        self.message = message
        self.detail = detail or message
        self.element = element

    def to_json(self, now: datetime | None = None) -> dict[str, object]:
        """The JSON body QBO sends for this fault."""
        error: dict[str, str] = {"Message": self.message, "Detail": self.detail, "code": self.code}
        if self.element:
            error["element"] = self.element
        return {"Fault": {"Error": [error], "type": self.fault_type}, "time": _stamp(now)}

    def to_xml(self, now: datetime | None = None) -> str:
        """The XML body (IntuitResponse > Fault > Error) from IntuitRestServiceDef.xsd."""
        element = f" element={quoteattr(self.element)}" if self.element else ""
        return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                f'<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="{_stamp(now)}">'
                f'<Fault type={quoteattr(self.fault_type)}><Error code={quoteattr(self.code)}{element}>'
                f"<Message>{escape(self.message)}</Message><Detail>{escape(self.detail)}</Detail>"
                "</Error></Fault></IntuitResponse>")


def _stamp(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).isoformat(timespec="milliseconds")


def not_found(kind: str, entity_id: str) -> Fault:
    """Error 610: the entity does not exist (or was deleted)."""
    return Fault(400, "ValidationFault", "610", "Object Not Found",
                 f"Object Not Found : Something you're trying to use has been made inactive. "
                 f"Check the fields with accounts, customers, items, vendors or employees. ({kind} {entity_id})")


def stale(kind: str, entity_id: str, sent: str, current: str) -> Fault:
    """Error 5010: the SyncToken sent is not the current one."""
    return Fault(400, "ValidationFault", "5010", "Stale Object Error",
                 f"Stale Object Error : You and another user were working on the same thing. "
                 f"{kind} {entity_id}: SyncToken {sent} is not the current {current}.")


def validation(message: str, detail: str = "", code: str = "6000", element: str | None = None) -> Fault:
    """A business-rule or request validation failure (HTTP 400 ValidationFault)."""
    return Fault(400, "ValidationFault", code, message, detail, element)


def not_a_number(element: str, value: object) -> Fault:
    """A money or quantity field QBO cannot read as a number.

    Intuit documents 2080 Invalid Number Format, 2100 Invalid Decimal Format and 2140 Invalid Amount, but a
    JSON body never reaches those checks: QBO's JSON reader fails to build the java.math.BigDecimal first and
    answers 2010 with Jackson's text inside its "Property Name:… specified is unsupported or invalid" detail
    (a real one is quoted in node-quickbooks#39, for QtyOnHand "Sku"). 2030 is Invalid ID, for ids only."""
    return Fault(400, "ValidationFault", "2010", "Request has invalid or unsupported property",
                 f"Property Name:Can not construct instance of java.math.BigDecimal from String value {value!r}: "
                 f"not a valid representation specified is unsupported or invalid", element)


def bad_date_time(element: str, value: str) -> Fault:
    """A date-time query parameter (CDC changedSince) that is not an ISO 8601 date-time.

    Intuit's error-code list does not say which code a bad changedSince gets; 2060 Invalid Date Format ("the
    date format isn't valid") is the documented code for text that is not a date (2070 is a well-formed date
    that does not exist, 2030 an id that is not one)."""
    return Fault(400, "ValidationFault", "2060", "Invalid Date Format",
                 f"{element}: {value!r} is not an ISO 8601 date-time (yyyy-MM-ddTHH:mm:ssZ)", element)


def required(element: str) -> Fault:
    """Error 2020: a required element is missing."""
    return Fault(400, "ValidationFault", "2020", "Required param missing, need to supply the required "
                 "value for the API", f"Required parameter {element} is missing in the request", element)


def query_error(detail: str) -> Fault:
    """Error 4000: the query statement could not be parsed."""
    return Fault(400, "ValidationFault", "4000", "Error parsing query", f"QueryParserError: {detail}")


def query_invalid(detail: str) -> Fault:
    """Error 4001: the statement parses but asks for something QBO does not allow."""
    return Fault(400, "ValidationFault", "4001", "Invalid query", f"QueryValidationError: {detail}")


def authentication(detail: str = "Token expired or invalid") -> Fault:
    """HTTP 401 AuthenticationFault."""
    return Fault(401, "AuthenticationFault", "3200",
                 "message=AuthenticationFailed; errorCode=003200; statusCode=401", detail)


def authorization(detail: str) -> Fault:
    """HTTP 403: the token is valid but not for this company."""
    return Fault(403, "AuthorizationFault", "3100",
                 "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403", detail)


def throttled(problem: str) -> Fault:
    """HTTP 429 ThrottleExceeded, code 3001."""
    return Fault(429, "ThrottleExceeded", "3001",
                 "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                 f"The request limit was reached ({problem}).")
