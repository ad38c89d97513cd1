"""``ratatosk.connect``: a connector from a provider id or a DSN, found through the plugins.

Construction errors (an unknown provider, a malformed DSN, an unknown preset) are configuration
mistakes made once at start-up, so :func:`connect` raises :class:`~ratatosk.MessagingError` for
them. The connector's operations then return results, as everywhere else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._errors import ErrorInfo, MessagingError, MessagingErrorCodes
from ._settings import ConnectionSettings, Dsn, SettingsParseError

if TYPE_CHECKING:
    from .connector import Connector
    from .schema import ChannelSchema

SettingsLike = ConnectionSettings | Mapping[str, Any] | str

_CONNECTOR_ID = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*(/[A-Za-z][A-Za-z0-9_.-]*)?")


def _not_found(what: str, available: list[str]) -> MessagingError:
    from .plugins import list_failures

    listing = ", ".join(available) if available else "none (no provider plugin is installed)"
    message = f"no connector {what} is installed; available: {listing}"
    failures = list_failures()
    if failures:
        message += "; plugins that failed to load: " + ", ".join(sorted({f.name for f in failures}))
    return MessagingError(ErrorInfo(MessagingErrorCodes.CONNECTOR_NOT_FOUND, message,
                                          details={"target": what, "available": available}))


def _invalid(message: str) -> MessagingError:
    return MessagingError(ErrorInfo(MessagingErrorCodes.INVALID_CONFIGURATION, message))


def resolve_connector_class(provider: str, connector_type: str | None) -> type[Connector]:
    """The connector class for ``provider`` and ``connector_type`` (the provider's default
    connector when ``connector_type`` is None); raises ``MessagingError`` (CONNECTOR_NOT_FOUND)."""
    from .plugins import get_registry

    registry = get_registry()
    if connector_type is None:
        cls = registry.default_for(provider)
        what = repr(provider)
    else:
        cls = registry.get(f"{provider}/{connector_type}")
        what = repr(f"{provider}/{connector_type}".lower())
    if cls is None:
        raise _not_found(what, registry.ids())
    return cls


_ROUTE_CALL = re.compile(r"(failover|roundrobin)\s*\((.*)\)", re.S | re.I)
_ROUTE_OPERATORS = (("||", "failover"), ("&&", "roundrobin"))


def _split_top(text: str, separator: str | None = None) -> list[str]:
    """``text`` split at the top level (outside parentheses): on whitespace, or on
    ``separator``."""
    parts: list[str] = []
    depth, start, i = 0, 0, 0
    while i < len(text):
        char = text[i]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise _invalid("a routing DSN has an unbalanced ')'")
        elif depth == 0 and (text.startswith(separator, i) if separator
                             else char.isspace()):
            parts.append(text[start:i])
            i += len(separator) if separator else 1
            start = i
            continue
        i += 1
    if depth:
        raise _invalid("a routing DSN has an unbalanced '('")
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _routing_target(text: str) -> tuple[str, list[str]] | None:
    """``("failover" | "roundrobin", member targets)`` for a routing DSN, else None."""
    call = _ROUTE_CALL.fullmatch(text)
    if call is not None:
        try:
            return call.group(1).lower(), _split_top(call.group(2))
        except MessagingError:
            pass  # "failover(A) || roundrobin(B)": not one call around everything
    found = [(kind, parts) for separator, kind in _ROUTE_OPERATORS
             if len(parts := _split_top(text, separator)) > 1]
    if len(found) > 1:
        raise _invalid("a routing DSN mixes '||' and '&&': nest them with failover(...) and "
                       "roundrobin(...)")
    return found[0] if found else None


def _connect_routing(kind: str, targets: list[str], options: dict[str, Any]) -> Connector:
    from .routing import FailoverConnector, RoundRobinConnector

    if not targets:
        raise _invalid(f"{kind}(...) lists no connector")
    members = [connect(target) for target in targets]
    cls = FailoverConnector if kind == "failover" else RoundRobinConnector
    return cls(members, **options)


def _auth_parameter_names(schema: ChannelSchema) -> tuple[str | None, str | None]:
    from .schema import AuthenticationFieldRole

    if not schema.authentication:
        return None, None
    auth = schema.authentication[0]
    return (auth.field_for(AuthenticationFieldRole.PRINCIPAL),
            auth.field_for(AuthenticationFieldRole.CREDENTIAL))


def _to_settings(settings: SettingsLike | None) -> ConnectionSettings:
    if settings is None:
        return ConnectionSettings()
    if isinstance(settings, ConnectionSettings):
        return settings.copy()
    if isinstance(settings, str):
        try:
            return ConnectionSettings.parse(settings)
        except SettingsParseError as exc:
            raise _invalid(f"the settings string is malformed: {exc}") from None
    if isinstance(settings, Mapping):
        return ConnectionSettings(settings)
    raise TypeError("settings must be ConnectionSettings, a mapping or a 'K=V;...' string, "
                    f"not {type(settings).__name__}")


def connect(
    target: str,
    settings: SettingsLike | None = None,
    *,
    schema: ChannelSchema | str | None = None,
    **options: Any,
) -> Connector:
    """A connector for ``target``, found through the installed plugins.

    ``target`` is a connector id (``"twilio/sms"``), a provider name (``"twilio"``: its default
    connector) or a DSN (``"twilio://ACxxx:token@default?MessagingServiceSid=MGxxx"``,
    ``"twilio+whatsapp://..."``). In a DSN the user and password go to the parameters the
    connector's schema names as principal and credential, host ``default`` means the provider's
    own endpoint and any other host becomes ``BaseUrl``; query options become parameters.
    ``settings`` (``ConnectionSettings``, a mapping or a ``K=V;...`` string) override DSN values.
    ``schema`` is a :class:`~ratatosk.ChannelSchema` or a preset's name (``"SimpleSms"``).

    A routing DSN combines connectors (docs/routing.md): ``failover(DSN DSN ...)`` or
    ``DSN || DSN`` gives a :class:`~ratatosk.FailoverConnector`, ``roundrobin(DSN DSN ...)`` or
    ``DSN && DSN`` a :class:`~ratatosk.RoundRobinConnector`; they nest
    (``failover(roundrobin(A B) C)``), and keyword arguments (``cooldown=60``) go to the router.
    Other keyword arguments (``http_transport=...``) go to the connector's constructor.

    The connector initializes itself on first use (or ``await connector.initialize()``);
    ``connector.blocking()`` gives the synchronous view.

    Raises :class:`~ratatosk.MessagingError` with code ``CONNECTOR_NOT_FOUND`` for an unknown
    provider or connector (the message lists those available) and ``INVALID_CONFIGURATION`` for
    a malformed DSN or settings string or an unknown preset (never quoting a secret).
    """
    if not isinstance(target, str):
        raise TypeError(f"target must be a string, not {type(target).__name__}")
    text = target.strip()
    if not text:
        raise _invalid("the connect target is empty: use 'provider/type' or a DSN")
    routing = _routing_target(text)
    if routing is not None:
        if settings is not None or schema is not None:
            raise _invalid("settings and schema belong to one connector: give them in each "
                           "member's DSN of a routing DSN")
        return _connect_routing(*routing, options)
    dsn: Dsn | None = None
    if "://" in text:
        try:
            dsn = Dsn.parse(text)
        except SettingsParseError as exc:
            raise _invalid(f"the DSN is malformed: {exc}") from None
        cls = resolve_connector_class(dsn.provider, dsn.connector_type)
    else:
        if not _CONNECTOR_ID.fullmatch(text):
            # never echo the text: a DSN typed without '://' holds a secret
            hint = " (a DSN needs '://')" if any(c in text for c in ":@?") else ""
            raise _invalid(f"the connect target is not a connector id{hint}: use "
                           "'provider/type', 'provider' or a DSN such as provider://user:secret@default")
        provider, _slash, connector_type = text.partition("/")
        cls = resolve_connector_class(provider, connector_type or None)

    chosen = cls.resolve_schema(schema)
    merged = ConnectionSettings()
    if dsn is not None:
        principal, credential = _auth_parameter_names(chosen)
        if principal is None and credential is None:
            principal, credential = _auth_parameter_names(cls.default_schema)
        try:
            merged = ConnectionSettings.from_dsn(dsn, principal=principal, credential=credential)
        except SettingsParseError as exc:
            raise _invalid(f"the DSN does not fit {cls.provider}/{cls.connector_type}: {exc}") \
                from None
    merged = merged.merged(_to_settings(settings))
    sensitive = [p.name for p in (*cls.default_schema.parameters, *chosen.parameters)
                 if p.sensitive]
    merged.mark_sensitive(*sensitive)
    return cls(chosen, merged, **options)
