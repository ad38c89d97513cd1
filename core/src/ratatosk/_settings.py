"""Connection settings: named parameters from code, ``K=V;K2=V2`` strings, DSNs and the environment.

Sensitive values (tokens, secrets, passwords, and whatever a schema marks sensitive) never appear
in ``repr``, ``str``, logs or error messages.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar, final
from urllib.parse import quote, quote_plus, unquote, urlsplit

import attrs
from attrs import field, frozen

from . import _values

if TYPE_CHECKING:
    import cattrs

MASK = "********"
_SENSITIVE_NAME = re.compile(r"token|secret|password|passwd|credential|private|key$", re.IGNORECASE)
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
# scheme://user:PASSWORD@ - the password of a URL's userinfo (group 2), in any text
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:]*:)([^\s/?#@]+)(@)")

T = TypeVar("T")


@final
class Secret:
    """A sensitive value (a token, a password): ``repr``, ``str`` and formatting show a mask.

    ``reveal()`` gives the value; two secrets are equal when their values are. A typed settings
    class declares its sensitive fields as ``Secret``:

    >>> token = Secret("s3cr3t")
    >>> token, str(token), f"{token}", token.reveal()
    (Secret('********'), '********', '********', 's3cr3t')
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError(f"a Secret holds text, not {type(value).__name__}")
        self._value = value

    def reveal(self) -> str:
        """The secret value itself (for the request that needs it, never for display)."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return format(MASK, spec)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Secret, (self._value,))


class SafeUrl(str):
    """A URL (a ``str``) whose ``repr`` masks the password of its userinfo
    (``https://user:********@host``); its text, as used in requests, is the URL itself."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(mask_url_passwords(str.__str__(self)))


def mask_url_passwords(text: str) -> str:
    """``text`` with the password of every URL's userinfo (``scheme://user:PASSWORD@``) masked."""
    if "@" not in text:
        return text
    return _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + m.group(3), text)


def url_passwords(value: Any) -> list[str]:
    """The passwords in the userinfo of every URL in ``value`` (raw and percent-decoded)."""
    if not isinstance(value, str) or "@" not in value:
        return []
    found: list[str] = []
    for match in _URL_PASSWORD.finditer(value):
        raw = match.group(2)
        found.append(raw)
        decoded = unquote(raw)
        if decoded != raw:
            found.append(decoded)
    return found


def secret_forms(secret: str) -> list[str]:
    """A secret as it may appear in text: raw and percent-encoded (``quote`` and
    ``quote_plus``, with and without ``/`` kept), longest first, without repeats."""
    forms = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret, safe=""),
             quote_plus(secret)}
    return sorted(forms, key=len, reverse=True)


def _mask_value(value: Any) -> Any:
    """A non-secret value for display: a URL's password masked."""
    if isinstance(value, str) and "@" in value:
        return mask_url_passwords(value)
    return value


def looks_sensitive(name: str) -> bool:
    """Whether a parameter name suggests a secret (``AuthToken``, ``ApiSecret``, ``ApiKey``...)."""
    return bool(_SENSITIVE_NAME.search(name))


class SettingsParseError(ValueError):
    """A settings string or DSN could not be parsed; the message names the bad part, not secrets."""


def normalize_parameter_name(name: str) -> str:
    """The key a parameter name is looked up by: lower case, without ``_`` and ``-``.

    ``AuthToken``, ``auth_token``, ``authToken`` and ``AUTH-TOKEN`` all name the same parameter.
    A name made only of ``_`` and ``-`` is its own key.
    """
    return name.replace("_", "").replace("-", "").lower() or name


class ConnectionSettings(MutableMapping[str, Any]):
    """Named connection parameters for a connector; a mutable mapping of names to values.

    Names are looked up in any spelling: ``AuthToken``, ``auth_token`` and ``authToken`` are the
    same parameter (see :func:`normalize_parameter_name`); setting one replaces the others, and
    iteration shows the name as it was last set.

    >>> s = ConnectionSettings().set_parameter("AccountSid", "AC...")
    >>> s["auth_token"] = "x"
    >>> s.get_parameter("account_sid"), "AuthToken" in s, len(s)
    ('AC...', True, 2)
    """

    __slots__ = ("_names", "_sensitive", "_values")

    def __init__(
        self,
        parameters: Mapping[str, Any] | None = None,
        /,
        *,
        sensitive: Iterable[str] = (),
        **named: Any,
    ) -> None:
        """Settings from a mapping and/or keywords (``ConnectionSettings(account_sid="AC...")``);
        ``sensitive`` names parameters to mask although their names do not look secret."""
        # normalized name -> value, and normalized name -> the name as last set
        self._values: dict[str, Any] = {}
        self._names: dict[str, str] = {}
        self._sensitive: set[str] = {normalize_parameter_name(n) for n in sensitive}
        for name, value in (parameters or {}).items():
            self.set_parameter(name, value)
        for name, value in named.items():
            self.set_parameter(name, value)

    # -- access ---------------------------------------------------------------------------
    def set_parameter(
        self, name: str, value: Any, *, sensitive: bool | None = None
    ) -> ConnectionSettings:
        """Set a parameter and return self (chainable)."""
        if not isinstance(name, str) or not name:
            raise TypeError("parameter names are non-empty strings")
        key = normalize_parameter_name(name)
        self._values[key] = value
        self._names[key] = name  # the spelling last used; the position stays, as in a dict
        if sensitive or (sensitive is None and looks_sensitive(name)):
            self._sensitive.add(key)
        elif sensitive is False:
            self._sensitive.discard(key)
        return self

    def get_parameter(self, name: str, default: Any = None) -> Any:
        """The parameter's value (under any spelling of its name), or ``default`` when unset."""
        return self._values.get(normalize_parameter_name(name), default)

    def has_parameter(self, name: str) -> bool:
        return normalize_parameter_name(name) in self._values

    def remove_parameter(self, name: str) -> ConnectionSettings:
        """Remove the parameter if it is set (no error when it is not); returns self."""
        key = normalize_parameter_name(name)
        self._values.pop(key, None)
        self._names.pop(key, None)
        return self

    def mark_sensitive(self, *names: str) -> ConnectionSettings:
        """Treat these parameters as secrets from now on."""
        self._sensitive.update(normalize_parameter_name(n) for n in names)
        return self

    def is_sensitive(self, name: str) -> bool:
        return normalize_parameter_name(name) in self._sensitive or looks_sensitive(name)

    @property
    def parameters(self) -> dict[str, Any]:
        """A copy of all parameters, by the names they were set with (secrets included)."""
        return {self._names[k]: v for k, v in self._values.items()}

    @property
    def sensitive_names(self) -> frozenset[str]:
        return frozenset(n for n in self._names.values() if self.is_sensitive(n))

    def merged(self, other: ConnectionSettings | Mapping[str, Any]) -> ConnectionSettings:
        """A new settings object: these parameters, overridden by ``other``'s."""
        result = self.copy()
        if isinstance(other, ConnectionSettings):
            for name, value in other.parameters.items():
                result.set_parameter(name, value, sensitive=other.is_sensitive(name) or None)
        else:
            for name, value in other.items():
                result.set_parameter(name, value)
        return result

    def copy(self) -> ConnectionSettings:
        clone = ConnectionSettings()
        clone._values = dict(self._values)
        clone._names = dict(self._names)
        clone._sensitive = set(self._sensitive)
        return clone

    # -- the mapping protocol ----------------------------------------------------------------
    def __getitem__(self, name: str) -> Any:
        key = normalize_parameter_name(name) if isinstance(name, str) else name
        try:
            return self._values[key]
        except KeyError:
            raise KeyError(name) from None

    def __setitem__(self, name: str, value: Any) -> None:
        self.set_parameter(name, value)

    def __delitem__(self, name: str) -> None:
        if not self.has_parameter(name):
            raise KeyError(name)
        self.remove_parameter(name)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._names.values()))

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and normalize_parameter_name(name) in self._values

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ConnectionSettings):
            return self._values == other._values
        if isinstance(other, Mapping):
            try:
                return self == ConnectionSettings(other)
            except TypeError:
                return False
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    # -- display (masked) -----------------------------------------------------------------
    def masked(self) -> dict[str, Any]:
        """The parameters with every sensitive value replaced by a mask (and the password in a
        URL's userinfo, ``https://user:********@host``, masked too)."""
        return {n: (MASK if self.is_sensitive(n) else _mask_value(v))
                for n, v in self.parameters.items()}

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={v!r}" for n, v in self.masked().items())
        return f"ConnectionSettings({inner})"

    def __str__(self) -> str:
        return ";".join(f"{n}={_format_value(v)}" for n, v in self.masked().items())

    def to_string(self, *, reveal_secrets: bool = False) -> str:
        """``K=V;K2=V2`` form; secrets are masked unless ``reveal_secrets`` is true."""
        values = self.parameters if reveal_secrets else self.masked()
        return ";".join(f"{n}={_format_value(v)}" for n, v in values.items())

    # -- constructors ---------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str) -> ConnectionSettings:
        """Parse ``"AccountSid=AC...;AuthToken=..."`` (or ``"account_sid=AC...;auth_token=..."``).

        Values may be double-quoted to contain ``;`` or ``=`` (``Name="a;b"``, ``""`` for a quote).
        Blank segments are ignored. Raises :class:`SettingsParseError` naming the bad segment
        (by its position and key, never its value).
        """
        if not isinstance(text, str):
            raise TypeError("settings text must be a string")
        settings = cls()
        for position, (key, value) in enumerate(_split_settings(text), start=1):
            key = key.strip()
            if not key:
                raise SettingsParseError(f"segment {position} of the settings string has no name")
            settings.set_parameter(key, value)
        return settings

    @classmethod
    def from_dsn(
        cls,
        dsn: str | Dsn,
        *,
        principal: str | None = None,
        credential: str | None = None,
        base_url_parameter: str = "BaseUrl",
    ) -> ConnectionSettings:
        """Settings from a DSN such as ``twilio://ACxxx:token@default?MessagingServiceSid=MGxxx``.

        The user part goes to the ``principal`` parameter and the password to ``credential``
        (the connector's schema names them). Host ``default`` means the provider's own
        endpoint; any other host becomes ``base_url_parameter``: ``http://`` for loopback hosts,
        ``https://`` otherwise (a ``BaseUrl`` query option wins). Query options become parameters,
        in any spelling (``?MessagingServiceSid=MG...`` or ``?messaging_service_sid=MG...``).
        """
        parsed = dsn if isinstance(dsn, Dsn) else Dsn.parse(dsn)
        settings = cls()
        if parsed.user is not None:
            if principal is None:
                raise SettingsParseError(
                    "this DSN has a user part but the connector names no principal"
                )
            settings.set_parameter(principal, parsed.user)
        if parsed.password is not None:
            if credential is None:
                raise SettingsParseError(
                    "this DSN has a password but the connector names no credential"
                )
            settings.set_parameter(credential, parsed.password, sensitive=True)
        if parsed.base_url is not None:
            settings.set_parameter(base_url_parameter, parsed.base_url)
        for name, value in parsed.options:
            settings.set_parameter(name, value)
        return settings

    @classmethod
    def from_env(
        cls,
        prefix: str,
        environ: Mapping[str, str] | None = None,
        *,
        names: Mapping[str, str] | None = None,
    ) -> ConnectionSettings:
        """Settings from environment variables that start with ``prefix``.

        ``TWILIO_ACCOUNT_SID`` with prefix ``TWILIO_`` becomes ``AccountSid`` (the rest of the name,
        in PascalCase; since names are looked up in any spelling, ``TWILIO_ACCOUNTSID`` works too);
        ``names`` maps exact variable names to parameter names instead.
        """
        env = os.environ if environ is None else environ
        settings = cls()
        explicit = dict(names or {})
        for var, value in sorted(env.items()):
            if var in explicit:
                settings.set_parameter(explicit[var], value)
            elif prefix and var.startswith(prefix) and len(var) > len(prefix):
                settings.set_parameter(_pascal(var[len(prefix) :]), value)
        return settings


def _pascal(snake: str) -> str:
    return "".join(part[:1].upper() + part[1:].lower() for part in snake.split("_") if part)


def _format_value(value: Any) -> str:
    text = str(value)
    if any(c in text for c in ';="') or text != text.strip():
        return '"' + text.replace('"', '""') + '"'
    return text


def _split_settings(text: str) -> Iterator[tuple[str, str]]:
    i, n = 0, len(text)
    position = 0
    while i < n:
        # key
        j = i
        while j < n and text[j] not in "=;":
            j += 1
        key = text[i:j]
        position += 1
        if j >= n or text[j] == ";":
            if key.strip():
                # the segment's text is not shown: a value written without its name
                # (``...;s3cr3t``) would otherwise end up in the message
                raise SettingsParseError(
                    f"segment {position} of the settings string has no '=' (write Name=Value)"
                )
            i = j + 1
            position -= 1
            continue
        j += 1  # skip '='
        while j < n and text[j] == " ":
            j += 1
        if j < n and text[j] == '"':
            value_chars: list[str] = []
            j += 1
            while True:
                if j >= n:
                    raise SettingsParseError(
                        f"segment {position} of the settings string ({key.strip()!r}) "
                        "has an unterminated quote"
                    )
                if text[j] == '"':
                    if j + 1 < n and text[j + 1] == '"':
                        value_chars.append('"')
                        j += 2
                        continue
                    j += 1
                    break
                value_chars.append(text[j])
                j += 1
            value = "".join(value_chars)
            while j < n and text[j] == " ":
                j += 1
            if j < n and text[j] != ";":
                raise SettingsParseError(
                    f"segment {position} of the settings string ({key.strip()!r}) has text "
                    "after its closing quote"
                )
        else:
            k = j
            while k < n and text[k] != ";":
                k += 1
            value = text[j:k].strip()
            j = k
        yield key, value
        i = j + 1


@frozen
class Dsn:
    """A parsed DSN: ``scheme://user:password@host:port/path?Option=Value``.

    The scheme is ``provider`` or ``provider+type`` (``twilio+whatsapp://...``).
    """

    scheme: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    host: str | None = None
    port: int | None = None
    path: str = ""
    options: tuple[tuple[str, str], ...] = field(
        default=(), repr=lambda o: repr(_masked_options(o))
    )

    @property
    def provider(self) -> str:
        return self.scheme.split("+", 1)[0]

    @property
    def connector_type(self) -> str | None:
        parts = self.scheme.split("+", 1)
        return parts[1] if len(parts) == 2 else None

    @property
    def base_url(self) -> str | None:
        """The API base URL this DSN names, or None for host ``default``."""
        for name, value in self.options:
            if normalize_parameter_name(name) == "baseurl":  # BaseUrl, base_url...
                return value
        if self.host is None or self.host == "default":
            return None
        host = self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        scheme = "http" if host.lower() in _LOOPBACK_HOSTS or host.startswith("127.") else "https"
        port = f":{self.port}" if self.port is not None else ""
        return f"{scheme}://{host}{port}{self.path.rstrip('/')}"

    @classmethod
    def parse(cls, text: str) -> Dsn:
        """Parse a DSN; raises :class:`SettingsParseError` naming the bad part (never a secret)."""
        if not isinstance(text, str):
            raise TypeError("a DSN is a string")
        if "://" not in text:
            raise SettingsParseError(
                "a DSN looks like provider://user:secret@host?Option=Value; '://' is missing"
            )
        scheme = text.split("://", 1)[0]
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*(\+[A-Za-z][A-Za-z0-9_.-]*)?", scheme):
            raise SettingsParseError(
                f"the DSN scheme {scheme!r} is not of the form provider or provider+type"
            )
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError as exc:
            raise SettingsParseError(
                f"the DSN's host or port is malformed ({_scrub(str(exc))}); percent-encode"
                " '/', '?', '#', '@' and ':' in the user and password"
            ) from None
        if parts.fragment:
            raise SettingsParseError("a DSN has no #fragment")
        host = parts.hostname
        if not host:
            raise SettingsParseError(
                "the DSN has no host (use 'default' for the provider's own endpoint)"
            )
        options = _dsn_options(parts.query)
        return cls(
            scheme=scheme.lower(),
            user=unquote(parts.username) if parts.username is not None else None,
            password=unquote(parts.password) if parts.password is not None else None,
            host=host,
            port=port,
            path=parts.path,
            options=options,
        )

    def __str__(self) -> str:
        user = ""
        if self.user is not None:
            user = quote(self.user, safe="")
            if self.password is not None:
                user += ":" + MASK
            user += "@"
        port = f":{self.port}" if self.port is not None else ""
        query = "&".join(f"{k}={v}" for k, v in _masked_options(self.options))
        return f"{self.scheme}://{user}{self.host}{port}{self.path}" + (
            f"?{query}" if query else ""
        )


def _dsn_options(query: str) -> tuple[tuple[str, str], ...]:
    """``K=V&K2=V2`` percent-decoded; unlike a form, ``+`` stays a plus (``From=+1555...``)."""
    options: list[tuple[str, str]] = []
    for position, pair in enumerate(query.split("&") if query else (), start=1):
        if not pair:
            continue
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SettingsParseError(
                f"option {position} of the DSN's query string is not Name=Value"
            )
        options.append((unquote(name), unquote(value)))
    return tuple(options)


def _scrub(message: str) -> str:
    # urllib quotes the offending text ("... as 'secret'"): keep only the words before it
    text = message.split("'", 1)[0].strip()
    return text.removesuffix(" as").strip() if text.endswith(" as") else text


def _masked_options(options: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """DSN query options with the values of secret-looking names masked."""
    return tuple((k, MASK if looks_sensitive(k) else mask_url_passwords(v)) for k, v in options)


class Parameters(dict[str, Any]):
    """A connector's validated parameters (:attr:`ratatosk.Connector.parameters`): a ``dict``
    whose ``repr`` and ``str`` mask every sensitive value and every URL password."""

    __slots__ = ("_sensitive",)

    def __init__(
        self, values: Mapping[str, Any] | None = None, *, sensitive: Iterable[str] = ()
    ) -> None:
        super().__init__(values or {})
        self._sensitive = frozenset(normalize_parameter_name(n) for n in sensitive)

    def is_sensitive(self, name: str) -> bool:
        return normalize_parameter_name(name) in self._sensitive or looks_sensitive(name)

    def masked(self) -> dict[str, Any]:
        """A plain dict of the parameters, secrets masked."""
        return {n: (MASK if isinstance(n, str) and self.is_sensitive(n) and v is not None
                    else _mask_value(v)) for n, v in self.items()}

    def __repr__(self) -> str:
        return repr(self.masked())

    __str__ = __repr__

    def __reduce__(self) -> tuple[Any, ...]:  # copies and pickles keep the masking
        return (_parameters, (dict(self), tuple(self._sensitive)))

    def copy(self) -> Parameters:
        clone = Parameters(self)
        clone._sensitive = self._sensitive
        return clone


def _parameters(values: dict[str, Any], sensitive: tuple[str, ...]) -> Parameters:
    return Parameters(values, sensitive=sensitive)


# --------------------------------------------------------------------------------------------
# typed settings objects (Connector.settings_type -> Connector.config)
# --------------------------------------------------------------------------------------------


def _structure_text(value: Any, _type: Any) -> str:
    if isinstance(value, Secret):
        return value.reveal()
    if isinstance(value, str):
        return value
    raise _values.InvalidValue("text")


def _structure_secret(value: Any, _type: Any) -> Secret:
    if isinstance(value, Secret):
        return value
    if isinstance(value, str):
        return Secret(value)
    raise _values.InvalidValue("text")


def _is_tuple(type_: Any) -> bool:
    return getattr(type_, "__origin__", None) is tuple


def _structure_tuple(value: Any, type_: Any) -> tuple[Any, ...]:
    """A tuple from a sequence, or from comma-separated text (``"a, b"`` -> ``("a", "b")``)."""
    args: tuple[Any, ...] = getattr(type_, "__args__", ())
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, (list, tuple)):
        raise _values.InvalidValue("a list (or comma-separated text)")
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_converter().structure(item, args[0]) for item in value)
    if len(args) != len(value):
        raise _values.InvalidValue(f"a list of {len(args)} values")
    return tuple(_converter().structure(v, t) for v, t in zip(value, args, strict=True))


_CONVERTER: list[cattrs.Converter] = []


def _converter() -> cattrs.Converter:
    """The converter for typed settings (made on first use: cattrs loads only when a connector
    with a ``settings_type`` initializes)."""
    if _CONVERTER:
        return _CONVERTER[0]
    import cattrs

    converter = cattrs.Converter()
    converter.register_structure_hook(bool, lambda v, _t: _values.parse_bool(v))
    converter.register_structure_hook(int, lambda v, _t: _values.parse_int(v))
    converter.register_structure_hook(float, lambda v, _t: _values.parse_float(v))
    converter.register_structure_hook(Decimal, lambda v, _t: _values.parse_decimal(v))
    converter.register_structure_hook(datetime, lambda v, _t: _values.parse_datetime(v))
    converter.register_structure_hook(timedelta, lambda v, _t: _values.parse_duration(v))
    converter.register_structure_hook(str, _structure_text)
    converter.register_structure_hook(Secret, _structure_secret)
    converter.register_structure_hook(
        SafeUrl, lambda v, _t: SafeUrl(_values.parse_url(_structure_text(v, str))))
    converter.register_structure_hook_func(_is_tuple, _structure_tuple)
    _CONVERTER.append(converter)
    return converter


def _pascal_name(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


def _admits_none(type_: Any) -> bool:
    return type_ is None or type(None) in getattr(type_, "__args__", ())


def structure_settings(
    settings_type: type[T], parameters: Mapping[str, Any]
) -> tuple[T | None, list[tuple[str, str]]]:
    """An instance of the attrs class ``settings_type`` built from resolved ``parameters``.

    Each field is the parameter of the same name in any spelling (``account_sid`` is
    ``AccountSid``); values convert with :mod:`ratatosk._values` (``bool``, ``int``, ``float``,
    ``Decimal``, ``datetime``, ``timedelta``, ``str``, :class:`Secret`, :class:`SafeUrl`,
    ``X | None``, tuples from comma-separated text). An unset parameter leaves the field's
    default; a field without a default that does not admit None is required. Returns the
    object, or None and every problem as ``(parameter name, message)`` (never a value).
    """
    cls: Any = settings_type
    if not attrs.has(cls):
        raise TypeError(f"settings_type must be an attrs class, not {settings_type!r}")
    attrs.resolve_types(cls)
    by_key = {normalize_parameter_name(name): name for name in parameters}
    values: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for attribute in attrs.fields(cls):
        if not attribute.init:
            continue
        key = normalize_parameter_name(attribute.name)
        name = by_key.get(key, _pascal_name(attribute.name))
        value = parameters.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if attribute.default is not attrs.NOTHING:
                continue
            if _admits_none(attribute.type):
                values[attribute.alias or attribute.name] = None
                continue
            problems.append((name, f"The {name} parameter is required."))
            continue
        try:
            values[attribute.alias or attribute.name] = _converter().structure(
                value, attribute.type)
        except _values.InvalidValue as exc:
            problems.append((name, f"The {name} parameter {exc}."))
        except Exception:  # cattrs' own errors: the type did not fit
            problems.append((name, f"The {name} parameter does not convert to "
                                   f"{getattr(attribute.type, '__name__', attribute.type)}."))
    if problems:
        return None, problems
    try:
        return settings_type(**values), []
    except (TypeError, ValueError) as exc:  # the class's own validators
        return None, [("settings", mask_url_passwords(str(exc)) or type(exc).__name__)]
