"""Connection settings: named parameters from code, ``K=V;K2=V2`` strings, DSNs and the environment.

Sensitive values (tokens, secrets, passwords, and whatever a schema marks sensitive) never appear
in ``repr``, ``str``, logs or error messages.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from attrs import field, frozen

MASK = "********"
_SENSITIVE_NAME = re.compile(r"token|secret|password|passwd|credential|private|key$", re.IGNORECASE)
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


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
        """The parameters with every sensitive value replaced by a mask."""
        return {n: (MASK if self.is_sensitive(n) else v) for n, v in self.parameters.items()}

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
    return tuple((k, MASK if looks_sensitive(k) else v) for k, v in options)
