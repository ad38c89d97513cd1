"""Routes, authentication and validation of the sandbox's Messages API (2010-04-01).

Request parameters and response shapes follow Twilio's OpenAPI description of
``/2010-04-01/Accounts/{AccountSid}/Messages*``; see ``_errors`` for the error codes answered.
Unknown parameters are accepted and ignored, as Twilio does. A body that is not form-encoded
(e.g. JSON) is read as no parameters, as Twilio does (so it answers 21604). The route and the
method are checked before the credentials: 404 (20404) and 405 (20004) come before 401 (20003).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timezone
from urllib.parse import unquote_plus, urlencode, urlsplit

from ._engine import Engine
from ._errors import ApiError
from ._http import Request, Response
from ._store import (
    MediaRecord,
    MessageRecord,
    body_metrics,
    channel_of,
    guess_content_type,
    new_sid,
    rfc2822,
    to_datetime,
)

__all__ = ["MAGIC_FROM", "MAGIC_TO", "Api"]

_log = logging.getLogger("ratatosk_twilio.sandbox")

_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_SHORT_CODE = re.compile(r"[0-9]{3,8}")
_ALPHA_SENDER = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 +\-_.&]{1,11}")
_MESSAGING_SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")
_CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")

MAGIC_FROM = {"+15005550001": 21212, "+15005550007": 21606, "+15005550008": 21611}
MAGIC_TO = {
    "+15005550001": 21211,
    "+15005550002": 21612,
    "+15005550003": 21408,
    "+15005550004": 21610,
    "+15005550009": 21614,
}

_BOOLEANS = ("SmartEncoded", "ProvideFeedback", "ForceDelivery", "ShortenUrls", "SendAsMms")
_ENUMS = {
    "ContentRetention": ("retain", "discard"),
    "AddressRetention": ("retain", "obfuscate"),
    "RiskCheck": ("enable", "disable"),
    "TrafficType": ("free",),
}
_SCHEDULE_MIN = 15 * 60
_SCHEDULE_MAX = 35 * 24 * 3600
_FORM = "application/x-www-form-urlencoded"

# Route kinds and the methods each one answers.
_ALLOWED = {
    "account": ("GET",),
    "messages": ("GET", "POST"),
    "message": ("GET", "POST", "DELETE"),
    "media_list": ("GET",),
    "media": ("GET", "DELETE"),
    "inbound": ("POST",),
    "advance": ("POST",),
}

_Route = tuple[str, str, str, str]  # kind, account sid, message sid, media sid


def _json(status: int, payload: object) -> Response:
    return Response(status, json.dumps(payload).encode())


def _error_response(exc: ApiError) -> Response:
    return Response(exc.status, exc.to_json(), headers=exc.headers)


def _not_found(path: str) -> ApiError:
    return ApiError(20404, f"The requested resource {path} was not found", status=404)


def _parse_form(data: str, code: int, what: str) -> list[tuple[str, str]]:
    """``application/x-www-form-urlencoded`` pairs (blank values kept; UTF-8 strictly)."""
    pairs: list[tuple[str, str]] = []
    try:
        for piece in data.split("&"):
            if not piece:
                continue
            name, _, value = piece.partition("=")
            if "%" in name or "+" in name:
                name = unquote_plus(name, errors="strict")
            if "%" in value or "+" in value:
                value = unquote_plus(value, errors="strict")
            pairs.append((name, value))
    except UnicodeDecodeError:
        raise ApiError(code, f"The {what} is not valid UTF-8 form encoding") from None
    if len(pairs) > 2000:
        raise ApiError(code, f"The {what} has too many parameters")
    return pairs


def _is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _bool(params: dict[str, str], name: str) -> bool:
    value = params.get(name)
    if value is None:
        return False
    lowered = value.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise ApiError(21619, f"Invalid value '{value}' for {name}: must be true or false")


def _parse_send_at(value: str) -> datetime:
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(35114, f"SendAt '{value}' is not an ISO 8601 timestamp") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


def _date_filter(name: str, value: str) -> Callable[[float], bool]:
    """A predicate on ``date_sent`` timestamps for DateSent, DateSent< or DateSent>."""
    op = name[len("DateSent") :]
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            if op == "<":
                return lambda ts: to_datetime(ts).date() <= day
            if op == ">":
                return lambda ts: to_datetime(ts).date() >= day
            return lambda ts: to_datetime(ts).date() == day
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(20001, f"Invalid {name} '{value}': use YYYY-MM-DD") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    bound = moment.timestamp()
    if op == "<":
        return lambda ts: ts <= bound
    if op == ">":
        return lambda ts: ts >= bound
    return lambda ts: bound <= ts < bound + 1


def _query_int(params: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise ApiError(20001, f"Invalid {name} '{value}': must be an integer from {low} to {high}")
    return number


class _Options:
    """What the optional create parameters decide."""

    __slots__ = ("send_as_mms", "send_at", "smart_encoded", "validity")

    def __init__(
        self,
        validity: int | None = None,
        smart_encoded: bool = False,
        send_as_mms: bool = False,
        send_at: float | None = None,
    ) -> None:
        self.validity = validity
        self.smart_encoded = smart_encoded
        self.send_as_mms = send_as_mms
        self.send_at = send_at


_NO_OPTIONS = _Options()
# Creates with only these parameters skip the checks of the optional ones (the fast path).
_BASIC_PARAMS = frozenset(("To", "From", "Body", "MessagingServiceSid", "MediaUrl",
                           "StatusCallback"))


def _options(p: dict[str, str], service: str | None, now: float) -> _Options:
    """Check the optional create parameters."""
    content_sid = p.get("ContentSid") or None
    if content_sid is not None and _CONTENT_SID.fullmatch(content_sid) is None:
        raise ApiError(21655, f"The ContentSid {content_sid} is invalid.")
    variables = p.get("ContentVariables")
    if variables:
        if content_sid is None:
            raise ApiError(21654, "ContentSid is required with ContentVariables.")
        try:
            parsed = json.loads(variables)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise ApiError(21656, "The ContentVariables parameter must be a JSON object.")
    validity: int | None = None
    if "ValidityPeriod" in p:
        try:
            validity = int(p["ValidityPeriod"])
        except ValueError:
            validity = 0
        if not 1 <= validity <= 36000:
            raise ApiError(21624, "The ValidityPeriod must be an integer from 1 to 36000 seconds.")
    if "MaxPrice" in p:
        try:
            max_price = float(p["MaxPrice"])
        except ValueError:
            max_price = 0.0
        if not max_price > 0:
            raise ApiError(21627, "Max Price must be a valid float.")
    if "Attempt" in p:
        try:
            int(p["Attempt"])
        except ValueError:
            raise ApiError(21619, "Attempt must be an integer.") from None
    flags = {name: _bool(p, name) for name in _BOOLEANS}
    for name, allowed in _ENUMS.items():
        value = p.get(name)
        if value is not None and value not in allowed:
            raise ApiError(21619, f"Invalid {name} '{value}': must be one of {', '.join(allowed)}.")
    send_at: float | None = None
    schedule_type = p.get("ScheduleType")
    if schedule_type is not None or p.get("SendAt"):
        if schedule_type != "fixed":
            raise ApiError(
                35126,
                "ScheduleType must be 'fixed' to schedule a message"
                if schedule_type is None
                else f"The ScheduleType value '{schedule_type}' is not supported.",
            )
        if not p.get("SendAt"):
            raise ApiError(35111, "SendAt timestamp is missing.")
        if service is None:
            raise ApiError(35118, "MessagingServiceSid is required to schedule a message.")
        send_at = _parse_send_at(p["SendAt"]).timestamp()
        if not _SCHEDULE_MIN <= send_at - now <= _SCHEDULE_MAX:
            raise ApiError(35114, "SendAt must be between 15 minutes and 35 days in the future.")
    return _Options(validity, flags["SmartEncoded"], flags["SendAsMms"], send_at)


def _route(path: str) -> _Route | None:
    parts = path.split("/")
    n = len(parts)
    # the sandbox's own control route (not Twilio's API): inject an inbound message
    if n == 5 and not parts[0] and parts[1:3] == ["sandbox", "Accounts"] \
            and parts[4] == "Inbound.json":
        return "inbound", parts[3], "", ""
    if n == 5 and not parts[0] and parts[1:3] == ["sandbox", "Accounts"] \
            and parts[4] == "Advance.json":
        return "advance", parts[3], "", ""
    if n < 4 or parts[0] or parts[1] != "2010-04-01" or parts[2] != "Accounts":
        return None
    if n == 4:
        account = parts[3]
        if account.endswith(".json"):
            return "account", account[:-5], "", ""
        return None
    account = parts[3]
    if parts[4] == "Messages.json":
        return ("messages", account, "", "") if n == 5 else None
    if parts[4] != "Messages" or n < 6:
        return None
    sid = parts[5]
    if n == 6:
        return ("message", account, sid[:-5], "") if sid.endswith(".json") else None
    if n == 7 and parts[6] == "Media.json":
        return "media_list", account, sid, ""
    if n == 8 and parts[6] == "Media" and parts[7].endswith(".json"):
        return "media", account, sid, parts[7][:-5]
    return None


class Api:
    """The HTTP handler: ``handle(request)`` answers one request."""

    def __init__(
        self,
        engine: Engine,
        *,
        latency: float = 0.0,
        max_concurrency: int | None = None,
    ) -> None:
        self.engine = engine
        self.latency = latency
        self.max_concurrency = max_concurrency
        self.started = time.time()
        self._auth_cache: dict[str, str] = {}
        self._creating = 0

    # entry point ------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response | Awaitable[Response]:
        counted = False
        try:
            route = _route(request.path)
            if route is None:
                raise _not_found(request.path)
            kind, account, sid, media_sid = route
            allowed = _ALLOWED[kind]
            if request.method not in allowed:
                raise ApiError(
                    20004,
                    f"Method {request.method} not allowed",
                    status=405,
                    headers=(("Allow", ", ".join(allowed)),),
                )
            self._authenticate(request, account)
            if kind == "inbound":
                return self._inbound(request)
            if kind == "advance":
                return self._advance(request, account)
            if kind == "messages" and request.method == "POST":
                cap = self.max_concurrency
                if cap is not None:
                    if self._creating >= cap:
                        raise ApiError(
                            20429,
                            "Too Many Requests",
                            status=429,
                            headers=(("Retry-After", "1"),),
                        )
                    self._creating += 1
                    counted = True
                response = self._create(request, account)
            else:
                response = self._dispatch(request, kind, account, sid, media_sid)
        except ApiError as exc:
            response = _error_response(exc)
        except Exception:
            _log.exception("sandbox API failed on %s %s", request.method, request.path)
            response = _error_response(ApiError(20500, status=500))
        if self.latency > 0:
            return self._delayed(response, counted)
        if counted:
            self._creating -= 1
        return response

    async def _delayed(self, response: Response, counted: bool) -> Response:
        try:
            await asyncio.sleep(self.latency)
            return response
        finally:
            if counted:
                self._creating -= 1

    def _authenticate(self, request: Request, account: str) -> None:
        header = request.headers.get("authorization")
        principal = None
        if header is not None:
            principal = self._auth_cache.get(header)
            if principal is None:
                principal = self._check_basic(header)
                if principal is not None:
                    if len(self._auth_cache) > 1024:
                        self._auth_cache.clear()
                    self._auth_cache[header] = principal
        if principal is None or principal != account:
            raise ApiError(
                20003,
                "Authenticate",
                status=401,
                headers=(("WWW-Authenticate", 'Basic realm="Twilio API"'),),
            )

    def _check_basic(self, header: str) -> str | None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        user, sep, password = decoded.partition(":")
        if not sep:
            return None
        engine = self.engine
        secret = engine.auth_token if user == engine.account_sid else engine.api_keys.get(user)
        if secret is not None and hmac.compare_digest(password.encode(), secret.encode()):
            return engine.account_sid
        return None

    def _dispatch(
        self, request: Request, kind: str, account: str, sid: str, media_sid: str
    ) -> Response:
        method = request.method
        if kind == "account":
            return _json(200, self._account_json(account))
        if kind == "messages":
            return self._list(request, account)
        record = self.engine.store.get(sid)
        if record is None or record.account_sid != account:
            raise _not_found(request.path)
        if kind == "message":
            if method == "GET":
                return _json(200, record.to_json())
            if method == "POST":
                return self._update(request, record)
            self.engine.delete(sid)
            return Response(204, content_type=None)
        if kind == "media_list":
            return self._media_list(request, record)
        media = next((m for m in record.media if m.sid == media_sid), None)
        if media is None:
            raise _not_found(request.path)
        if method == "GET":
            return _json(200, media.to_json(account, record.sid))
        record.media.remove(media)
        return Response(204, content_type=None)

    def _inbound(self, request: Request) -> Awaitable[Response]:
        """``POST /sandbox/Accounts/{AccountSid}/Inbound.json``: deliver an inbound message.

        Form fields: From, To (required), Body, MediaUrl and MediaContentType (repeated, in
        pairs), Url (the webhook; default: the sandbox's inbound webhook URL),
        MessagingServiceSid; any other field is passed on as it is (ProfileName, WaId, ...).
        Answers 200 with what was posted and how the webhook answered.
        """
        pairs = self._form(request)
        fields = {"From": "", "To": "", "Body": "", "Url": "", "MessagingServiceSid": ""}
        urls: list[str] = []
        types: list[str] = []
        extra: dict[str, str] = {}
        for name, value in pairs:
            if name == "MediaUrl":
                urls.append(value)
            elif name == "MediaContentType":
                types.append(value)
            elif name in fields:
                fields[name] = value
            else:
                extra[name] = value
        if not fields["From"] or not fields["To"]:
            raise ApiError(21604, "An inbound message needs From and To.")
        if len(types) > len(urls) or len(urls) > 10:
            raise ApiError(21623, "Give at most 10 MediaUrl, each with at most one type.")
        target = fields["Url"] or self.engine.inbound_webhook_url
        if not target or not _is_http_url(target):
            raise ApiError(21609, "Give Url (http or https), or start the sandbox with an "
                                  "inbound webhook URL.")
        media = [(url, types[i] if i < len(types) else "image/jpeg")
                 for i, url in enumerate(urls)]
        record, params = self.engine.inbound_params(
            from_=fields["From"], to=fields["To"], body=fields["Body"], media=media,
            messaging_service_sid=fields["MessagingServiceSid"] or None, extra=extra)

        async def deliver() -> Response:
            delivery = await self.engine.deliver_inbound(record, params, target)
            return _json(200, {
                "message_sid": delivery.message_sid,
                "url": delivery.url,
                "status_code": delivery.status_code,
                "error": delivery.error,
                "response_body": delivery.body,
                "replies": [{"sid": r.sid, "to": r.to, "body": r.body} for r in delivery.replies],
            })

        return deliver()

    def _advance(self, request: Request, account: str) -> Response:
        """``POST /sandbox/Accounts/{AccountSid}/Advance.json``: move messages on their way.

        Form fields: MessageSid (default: every message in flight), To (a status to reach, e.g.
        ``delivered``; default: one step). What ``--progression manual`` waits for; it works in
        the other progressions too. Answers 200 with the messages moved and their statuses;
        404 (20404) for an unknown message, 400 (20001) when the status is not ahead of it.
        """
        fields = dict(self._form(request))
        sid = fields.get("MessageSid") or None
        target = (fields.get("To") or "").strip().lower() or None
        engine = self.engine
        if sid is not None:
            record = engine.store.get(sid)
            if record is None or record.account_sid != account:
                raise ApiError(20404, f"The requested resource {sid} was not found", status=404)
        if target is None:
            if sid is None:
                moved = list(engine.inflight.values())
            else:
                moved = [engine.inflight[sid]] if sid in engine.inflight else []
            engine.advance(sid)
        else:
            if sid is not None:
                sids = [sid]
            else:
                sids = [r.sid for r in engine.inflight.values()
                        if target in [step for step, _ in r.path[r.step:]]]
            try:
                moved = [engine.advance_to(one, target) for one in sids]
            except ValueError as exc:
                raise ApiError(20001, str(exc)) from None
        return _json(200, {
            "advanced": len(moved),
            "messages": [{"sid": r.sid, "to": r.to, "status": r.status,
                          "error_code": r.error_code, "in_flight": r.sid in engine.inflight}
                         for r in moved],
        })

    # resources --------------------------------------------------------------------------------

    def _account_json(self, account: str) -> dict[str, object]:
        created = rfc2822(self.started)
        base = f"/2010-04-01/Accounts/{account}"
        return {
            "date_created": created,
            "date_updated": created,
            "friendly_name": "Ratatosk Twilio sandbox",
            "owner_account_sid": account,
            "sid": account,
            "status": "active",
            "subresource_uris": {"messages": base + "/Messages.json"},
            "type": "Full",
            "uri": base + ".json",
        }

    def _form(self, request: Request) -> list[tuple[str, str]]:
        body = request.body
        if not body:
            return []
        content_type = request.headers.get("content-type", _FORM)
        if not content_type.lower().startswith(_FORM):
            return []
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(21619, "The request body is not valid UTF-8") from None
        return _parse_form(text, 21619, "request body")

    def _create(self, request: Request, account: str) -> Response:
        pairs = self._form(request)
        p = dict(pairs)
        engine = self.engine

        to = p.get("To", "")
        if not to:
            raise ApiError(21604, "A 'To' phone number is required.")
        to_whatsapp = to.startswith("whatsapp:")
        to_number = to[9:] if to_whatsapp else to
        if _E164.fullmatch(to_number) is None:
            raise ApiError(21211, f"The 'To' number {to} is not a valid phone number.")

        from_ = p.get("From") or None
        service = p.get("MessagingServiceSid") or None
        if from_ is None and service is None:
            raise ApiError(21603, "A 'From' or 'MessagingServiceSid' phone number is required.")
        if service is not None and _MESSAGING_SERVICE_SID.fullmatch(service) is None:
            raise ApiError(21705, f"The Messaging Service Sid {service} is invalid.")
        from_number = ""
        if from_ is not None:
            from_whatsapp = from_.startswith("whatsapp:")
            from_number = from_[9:] if from_whatsapp else from_
            if _E164.fullmatch(from_number) is None and (
                from_whatsapp
                or (
                    _SHORT_CODE.fullmatch(from_number) is None
                    and _ALPHA_SENDER.fullmatch(from_number) is None
                )
            ):
                raise ApiError(
                    21212,
                    f"The 'From' number {from_} is not a valid phone number, shortcode, "
                    "or alphanumeric sender ID.",
                )
            if from_whatsapp != to_whatsapp:
                raise ApiError(21910, "Invalid From and To pair. From and To should be of the same"
                               " channel.")

        body = p.get("Body", "")
        media_urls = [v for k, v in pairs if k == "MediaUrl"] if "MediaUrl" in p else []
        if not body and not media_urls and not p.get("ContentSid"):
            raise ApiError(21602, "Message body is required.")
        if len(body) > 1600:
            raise ApiError(
                21617, "The concatenated message body exceeds the 1600 character limit."
            )
        if len(media_urls) > 10:
            raise ApiError(21623, "Number of media files exceeds allowed limit (10).")
        for url in media_urls:
            if not _is_http_url(url):
                raise ApiError(21620, f"Media URL {url} is invalid: use an http(s) URL.")
        status_callback = p.get("StatusCallback") or None
        if status_callback is not None and not _is_http_url(status_callback):
            raise ApiError(21609, f"The StatusCallback URL {status_callback} is not valid.")

        now = time.time()
        options = _NO_OPTIONS if _BASIC_PARAMS.issuperset(p) else _options(p, service, now)

        forced = engine.take_forced_error()
        if forced is not None:
            http_status, forced_code, retry_after = forced
            headers = (("Retry-After", f"{retry_after:g}"),) if retry_after is not None else ()
            raise ApiError(forced_code, status=http_status, headers=headers)
        code = MAGIC_TO.get(to_number)
        if code is None and engine.is_opted_out(to_number, from_):
            code = 21610
        if code is not None:
            raise ApiError(code, _magic_message(code, to, from_))
        code = MAGIC_FROM.get(from_number)
        if code is not None:
            raise ApiError(code, _magic_message(code, to, from_))

        channel = channel_of(to, bool(media_urls) or options.send_as_mms)
        segments, encoding = body_metrics(body, channel, options.smart_encoded)

        expired = False
        dispatch_at = now
        send_at = options.send_at
        if send_at is None:
            sender = from_ or service or ""
            reserved = engine.queues.reserve(sender, segments, now, options.validity)
            if reserved is None:
                raise ApiError(
                    21611,
                    "This 'From' number has exceeded the maximum number of queued messages.",
                )
            dispatch_at, expired = reserved

        if send_at is not None:
            status = "scheduled"
        elif service is not None:
            status = "accepted"
        else:
            status = "queued"
        record = MessageRecord(
            sid=new_sid("MM" if media_urls else "SM"),
            account_sid=account,
            direction="outbound-api",
            from_=from_,
            to=to,
            body=body,
            status=status,
            channel=channel,
            messaging_service_sid=service,
            num_segments=segments,
            encoding=encoding,
            media=[MediaRecord(u, guess_content_type(u), now) for u in media_urls],
            now=now,
            status_callback=status_callback,
            send_at=send_at,
            params=tuple(pairs),
        )
        response = _json(201, record.to_json())
        engine.add_outbound(record, dispatch_at=dispatch_at, expired=expired)
        return response

    def _update(self, request: Request, record: MessageRecord) -> Response:
        p = dict(self._form(request))
        status = p.get("Status")
        if status is not None:
            if status != "canceled":
                raise ApiError(21475, f"Unable to update Status, invalid Status '{status}'.")
            if record.status != "scheduled":
                raise ApiError(
                    30409,
                    f"Message {record.sid} cannot be canceled: its status is {record.status}.",
                )
            self.engine.cancel(record)
        body = p.get("Body")
        if body is not None:
            if body != "":
                raise ApiError(21619, "Body can only be updated to an empty string (redaction).")
            record.body = ""
            record.date_updated = time.time()
        return _json(200, record.to_json())

    # lists ------------------------------------------------------------------------------------

    def _query(self, request: Request) -> list[tuple[str, str]]:
        return _parse_form(request.query, 20001, "query string") if request.query else []

    def _list(self, request: Request, account: str) -> Response:
        pairs = self._query(request)
        q = dict(pairs)
        to = q.get("To")
        from_ = q.get("From")
        date_tests = [
            _date_filter(name, value)
            for name, value in pairs
            if name in ("DateSent", "DateSent<", "DateSent>") and value
        ]

        def keep(record: MessageRecord) -> bool:
            if record.account_sid != account:
                return False
            if to is not None and record.to != to:
                return False
            if from_ is not None and record.from_ != from_:
                return False
            if date_tests:
                sent = record.date_sent
                if sent is None or not all(test(sent) for test in date_tests):
                    return False
            return True

        records = [r for r in self.engine.store.newest_first() if keep(r)]
        filters = [
            (k, v) for k, v in pairs if k in ("To", "From", "DateSent", "DateSent<", "DateSent>")
        ]
        keys = [r.seq for r in records]
        page, start, end = self._page(request, pairs, filters, keys, descending=True)
        page["messages"] = [r.to_json() for r in records[start:end]]
        return _json(200, page)

    def _media_list(self, request: Request, record: MessageRecord) -> Response:
        pairs = self._query(request)
        media = record.media
        page, start, end = self._page(request, pairs, [], list(range(len(media))), descending=False)
        page["media_list"] = [m.to_json(record.account_sid, record.sid) for m in media[start:end]]
        return _json(200, page)

    def _page(
        self,
        request: Request,
        pairs: list[tuple[str, str]],
        filters: list[tuple[str, str]],
        keys: list[int],
        *,
        descending: bool,
    ) -> tuple[dict[str, object], int, int]:
        """The paging fields of one page of a list, and the page's slice ``[start:end]``.

        ``keys`` orders the listed items (creation sequence of messages, newest first; position
        of media). A PageToken is ``PA<key>`` (the page after that item) or ``PB<key>`` (the page
        before it), so pages stay stable while messages are created.
        """
        q = dict(pairs)
        size = _query_int(q, "PageSize", 50, 1, 1000)
        number = _query_int(q, "Page", 0, 0, 10**9)
        total = len(keys)
        token = q.get("PageToken")
        if token:
            kind, mark_text = token[:2], token[2:]
            if kind not in ("PA", "PB") or not (mark_text.isascii() and mark_text.isdigit()):
                raise ApiError(21481, f"Invalid PageToken '{token}'.")
            mark = int(mark_text)
            if kind == "PA":
                start = next(
                    (i for i, k in enumerate(keys) if (k < mark if descending else k > mark)),
                    total,
                )
            else:
                end = next(
                    (i for i, k in enumerate(keys) if (k <= mark if descending else k >= mark)),
                    total,
                )
                start = max(0, end - size)
        else:
            start = min(number * size, total)
        end = min(start + size, total)
        count = end - start
        path = request.path
        base = [*filters, ("PageSize", str(size))]

        def uri(page_number: int, page_token: str | None) -> str:
            query = [*base, ("Page", str(page_number))]
            if page_token is not None:
                query.append(("PageToken", page_token))
            return f"{path}?{urlencode(query)}"

        next_uri = None
        previous_uri = None
        if end < total and count:
            next_uri = uri(number + 1, f"PA{keys[end - 1]}")
        if start > 0 and count:
            previous_uri = uri(max(number - 1, 0), f"PB{keys[start]}")
        first = number * size
        return (
            {
                "end": first + max(count - 1, 0),
                "first_page_uri": uri(0, None),
                "next_page_uri": next_uri,
                "page": number,
                "page_size": size,
                "previous_page_uri": previous_uri,
                "start": first,
                "uri": uri(number, token or None),
            },
            start,
            end,
        )


def _magic_message(code: int, to: str, from_: str | None) -> str:
    messages = {
        21211: f"The 'To' number {to} is not a valid phone number.",
        21612: f"The 'To' phone number: {to}, is not currently reachable using the 'From' "
        f"phone number: {from_} via SMS.",
        21408: f"Permission to send an SMS has not been enabled for the region indicated by the "
        f"'To' number: {to}.",
        21610: "Attempt to send to unsubscribed recipient",
        21614: f"'To' number {to} is not a valid mobile number",
        21212: f"The 'From' number {from_} is not a valid phone number, shortcode, or "
        "alphanumeric sender ID.",
        21606: f"The From phone number {from_} is not a valid, SMS-capable inbound phone number "
        "or short code for your account.",
        21611: "This 'From' number has exceeded the maximum number of queued messages",
    }
    return messages[code]

