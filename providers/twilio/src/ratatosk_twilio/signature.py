"""Twilio request signatures (``X-Twilio-Signature``): compute and validate.

Twilio signs every webhook request with HMAC-SHA1, keyed with the account's auth token, over

* the full URL it requested (query string included), followed by
* for form posts: each POST parameter name in sorted order, concatenated with each of its values
  (values of a repeated name sorted too, identical values once), ``name + value`` with no
  separators;
* for JSON bodies: nothing more -- Twilio appends ``bodySHA256=<hex sha256 of the body>`` to the URL
  instead, and the body is checked against that hash.

The signature is the base64 of the 20-byte digest. Parameters are the *decoded* form fields (a ``+``
in the raw body is a space here), exactly as a form parser returns them.

>>> compute_signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", {
...     "CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234",
...     "From": "+14158675309", "To": "+18005551212"})
'RSOYDt4T1cUTdK1PDd93/VVr8B8='
"""

from __future__ import annotations

import hashlib
from binascii import b2a_base64 as _b64
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from hmac import compare_digest as _compare_digest
from hmac import digest as _hmac_digest
from itertools import chain
from typing import TYPE_CHECKING, TypeAlias
from urllib.parse import parse_qs, urlsplit

from attrs import define, field

if TYPE_CHECKING:
    from hashlib import _Hash

    _Pads = tuple[tuple[_Hash, _Hash], ...]  # (inner, outer) hash states, one pair per key

__all__ = [
    "SIGNATURE_HEADER",
    "Params",
    "body_sha256",
    "compute_signature",
    "validate_signature",
]

SIGNATURE_HEADER = "X-Twilio-Signature"
"""The HTTP header that carries the signature."""

Params: TypeAlias = Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]
"""Form parameters: a mapping (a value may be a sequence for a repeated name; multi-dicts of
Starlette, Werkzeug, Django and multidict are read with all their values) or ``(name, value)``
pairs, names repeated as often as they occur."""

_DEFAULT_PORTS = {"http": "80", "https": "443"}
_chain = chain.from_iterable


def body_sha256(body: bytes) -> str:
    """Hex SHA-256 of a request body, as Twilio puts it in the ``bodySHA256`` query parameter."""
    return hashlib.sha256(body).hexdigest()


def _pairs(params: Params | None) -> list[tuple[str, str]]:
    """Flatten the accepted parameter shapes into ``(name, value)`` pairs."""
    if params is None:
        return []
    pairs: list[tuple[str, str]] = []
    if isinstance(params, Mapping):
        multi_items = getattr(params, "multi_items", None)  # Starlette FormData / QueryParams
        getlist = getattr(params, "getlist", None)  # Werkzeug MultiDict, Django QueryDict
        if callable(multi_items):
            pairs = list(multi_items())
        elif callable(getlist) and not hasattr(params, "getall"):
            pairs = [(name, value) for name in params for value in getlist(name)]
        else:  # plain mappings; multidict's items() already lists every pair
            for name, value in params.items():
                if isinstance(value, str):
                    pairs.append((name, value))
                else:
                    pairs.extend((name, item) for item in value)
    else:
        pairs = [(name, value) for name, value in params]
    for name, value in pairs:
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(f"parameter names and values must be str, got {name!r}: {value!r}")
    return pairs


def _payload(url: str, pairs: list[tuple[str, str]], *, unique_values: bool = False) -> bytes:
    """The signed bytes: ``url`` then every ``name + value``, sorted by name, then by value.

    Sorting the ``(name, value)`` tuples orders them exactly as grouping by sorted name and
    sorting each name's values does (tuples compare by name first, then by value).
    """
    # surrogatepass: a string that cannot be valid UTF-8 still hashes (and simply never matches).
    return (url + _joined(pairs, unique_values)).encode("utf-8", "surrogatepass")


def _joined(pairs: Iterable[tuple[str, str]], unique_values: bool = False) -> str:
    """``name + value`` of every pair, in signing order (see :func:`_payload`)."""
    return "".join(_chain(sorted(set(pairs) if unique_values else pairs)))


def _sign(token: str, payload: bytes) -> bytes:
    return _b64(_hmac_digest(token.encode("utf-8", "surrogatepass"), payload, "sha1"),
                newline=False)


def compute_signature(auth_token: str, url: str, params: Params | None = None) -> str:
    """Compute the ``X-Twilio-Signature`` Twilio sends for a request to ``url`` with ``params``.

    ``url`` is taken exactly as given (scheme, host, port, path and query as Twilio requested them).
    For a JSON webhook leave ``params`` out: the URL, ``bodySHA256`` included, is all that is
    signed. A name repeated with identical values counts once, as in Twilio's own libraries
    (twilio-python's ``RequestValidator``); different values of one name are all signed, sorted.
    """
    if not isinstance(auth_token, str) or not isinstance(url, str):
        raise TypeError("auth_token and url must be str")
    return _sign(auth_token, _payload(url, _pairs(params), unique_values=True)).decode("ascii")


def _split_authority(url: str) -> tuple[str, str, str] | None:
    """``(before, authority, after)`` of an absolute URL, or None if it has no authority."""
    marker = url.find("://")
    if marker <= 0:
        return None
    start = marker + 3
    end = len(url)
    for delimiter in "/?#":
        found = url.find(delimiter, start)
        if found != -1:
            end = min(end, found)
    return url[:start], url[start:end], url[end:]


def _url_variants(url: str) -> list[str]:
    """The URL as given, plus the same URL with the scheme's default port added or removed.

    Twilio is inconsistent about whether the signed URL carries ``:443``/``:80``; both spellings
    are accepted. A non-default port is never touched. Anything unparsable yields just ``[url]``.
    """
    variants = [url]
    split = _split_authority(url)
    if split is None:
        return variants
    before, authority, after = split
    default = _DEFAULT_PORTS.get(before[:-3].lower())
    if default is None:
        return variants
    userinfo, at, hostport = authority.rpartition("@")
    if hostport.startswith("["):  # IPv6 literal
        close = hostport.find("]")
        if close == -1:
            return variants
        host, rest = hostport[: close + 1], hostport[close + 1 :]
        if rest and not rest.startswith(":"):
            return variants
        port = rest[1:] if rest else None
    else:
        host, colon, port_text = hostport.partition(":")
        port = port_text if colon else None
    if not host:
        return variants
    prefix = before + userinfo + at
    if port is None or port == "":
        variants.append(f"{prefix}{host}:{default}{after}")
        if port == "":
            variants.append(f"{prefix}{host}{after}")
    elif port.isascii() and port.isdigit() and int(port) == int(default):
        variants.append(f"{prefix}{host}{after}")
    return variants


@lru_cache(maxsize=64)
def _encoded_variants(url: str) -> tuple[bytes, ...]:
    """:func:`_url_variants` encoded for signing, computed once per URL (a webhook's URL is
    nearly always the same configured one)."""
    return tuple(variant.encode("utf-8", "surrogatepass") for variant in _url_variants(url))


def _may_carry_body_hash(url: str) -> bool:
    """False only when ``bodySHA256`` cannot be a query parameter name of ``url``.

    The name can only appear after decoding if the URL spells it out, percent-escapes something
    (``%62odySHA256``), or has a tab or line break, which ``urlsplit`` deletes.
    """
    return ("bodySHA256" in url or "%" in url or "\t" in url or "\r" in url
            or "\n" in url)


def _body_hash_in_url(url: str) -> str | None:
    if not _may_carry_body_hash(url):
        return None
    try:
        query = urlsplit(url).query
    except ValueError:
        return None
    values = parse_qs(query, keep_blank_values=True).get("bodySHA256")
    return values[0] if values else None


def _check_tokens(tokens: Sequence[object]) -> None:
    for token in tokens:
        if not isinstance(token, str):
            raise TypeError("auth tokens must be str")


_TRANS_36 = bytes(x ^ 0x36 for x in range(256))
_TRANS_5C = bytes(x ^ 0x5C for x in range(256))
_SHA1_BLOCK = 64
_MAX_URLS = 32


@define(repr=False)  # it holds the auth tokens' HMAC keys: never shown
class _Keyring:
    """HMAC-SHA1 (RFC 2104) under each auth token, with the key pads absorbed once.

    ``HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m))``. The inner hash is also kept with each
    URL already fed in (signed payloads start with the URL, and a webhook URL rarely changes), so
    a check only hashes the parameters. Copies of these states give exactly ``hmac.digest``'s
    result (the tests check it).
    """

    _pads: _Pads
    _by_url: dict[bytes, _Pads] = field(factory=dict)

    @classmethod
    def of(cls, tokens: Sequence[str]) -> _Keyring:
        """A keyring for these (str) tokens, tried in this order."""
        pads = []
        for token in tokens:
            key = token.encode("utf-8", "surrogatepass")
            if len(key) > _SHA1_BLOCK:
                key = hashlib.sha1(key).digest()
            key = key.ljust(_SHA1_BLOCK, b"\0")
            pads.append((hashlib.sha1(key.translate(_TRANS_36)),
                         hashlib.sha1(key.translate(_TRANS_5C))))
        return cls(tuple(pads))

    def _states(self, url: bytes) -> _Pads:
        states = self._by_url.get(url)
        if states is None:
            if len(self._by_url) >= _MAX_URLS:  # URLs taken from requests: stay bounded
                self._by_url.clear()
            fed = []
            for inner, outer in self._pads:
                inner = inner.copy()
                inner.update(url)
                fed.append((inner, outer))
            states = self._by_url[url] = tuple(fed)
        return states

    def verify(self, url: str, pairs: Sequence[tuple[str, str]], expected: bytes,
               body: bytes | None) -> bool:
        """:func:`validate_signature` with these keys, on well-formed arguments (a str URL,
        ``(str, str)`` pairs, the stripped ASCII signature)."""
        state = _body_hash_state(url, body)
        if state is False:
            return False
        return self._check(url, () if state else pairs, expected)

    def _check(self, url: str, pairs: Sequence[tuple[str, str]], expected: bytes) -> bool:
        urls = _encoded_variants(url)
        if self.matches(urls, _joined(pairs).encode("utf-8", "surrogatepass"), expected):
            return True
        # twilio-python signs a repeated identical value once: accept that spelling too
        if len(set(pairs)) != len(pairs):
            unique = _joined(pairs, unique_values=True).encode("utf-8", "surrogatepass")
            return self.matches(urls, unique, expected)
        return False

    def matches(self, urls: Sequence[bytes], rest: bytes, expected: bytes) -> bool:
        """Whether the signature of ``url + rest`` under one of the keys is ``expected``, for
        one of ``urls``.

        Every candidate is compared in constant time (``hmac.compare_digest``); the search stops
        at the first match, which reveals nothing an attacker does not learn from the answer.
        """
        for url in urls:
            for inner, outer in self._states(url):
                inner = inner.copy()
                inner.update(rest)
                outer = outer.copy()
                outer.update(inner.digest())
                if _compare_digest(_b64(outer.digest(), newline=False), expected):
                    return True
        return False


def _verify(
    tokens: Sequence[str],
    url: str,
    pairs: Sequence[tuple[str, str]],
    expected: bytes,
    body: bytes | None,
) -> bool:
    """The core of :func:`validate_signature`, once its arguments are known to be well-formed:
    non-empty tokens, a str URL, ``(str, str)`` pairs and the stripped ASCII signature."""
    state = _body_hash_state(url, body)
    if state is False:
        return False
    _check_tokens(tokens)
    return _Keyring.of(tokens)._check(url, () if state else pairs, expected)


def _body_hash_state(url: str, body: bytes | None) -> bool | None:
    """None when ``url`` carries no ``bodySHA256`` (the form parameters are signed); True when
    it does and ``body`` matches it (only the URL is signed); False when the body is missing or
    does not match."""
    body_hash = _body_hash_in_url(url)
    if body_hash is None:
        return None
    if body is None:
        return False
    actual = body_sha256(body).encode("ascii")
    claimed = body_hash.strip().lower().encode("utf-8", "surrogatepass")
    return _compare_digest(actual, claimed)


def validate_signature(
    auth_token: str | Sequence[str],
    url: str,
    params: Params | None,
    signature: str | None,
    *,
    body: bytes | None = None,
) -> bool:
    """Check an ``X-Twilio-Signature`` header value; never raises for bad request data.

    * ``auth_token``: one token, or several (during a token rotation any of them may match).
    * ``url``: the full URL Twilio requested; it is also tried with the default port added or
      removed (``https`` 443, ``http`` 80).
    * ``params``: the decoded form parameters (``None`` or empty for a JSON body or a GET).
    * ``body``: the raw body. Required when the URL carries ``bodySHA256``: then the body's SHA-256
      must equal it and only the URL is signed (``params`` are ignored).

    Repeated identical values of one parameter are also accepted de-duplicated, the way
    twilio-python signs them. Comparisons are constant time. A missing or empty signature, no
    usable token, or a body that does not match its hash gives False.
    """
    if not signature or not isinstance(signature, str) or not isinstance(url, str):
        return False
    tokens = [auth_token] if isinstance(auth_token, str) else list(auth_token)
    tokens = [token for token in tokens if token]
    if not tokens:
        return False
    try:
        expected = signature.strip().encode("ascii")
    except UnicodeEncodeError:
        return False
    if _body_hash_in_url(url) is not None:
        pairs: list[tuple[str, str]] = []  # params are ignored: only the URL is signed
    else:
        try:
            pairs = _pairs(params)
        except TypeError:  # e.g. a file upload where form fields were expected
            return False
    return _verify(tokens, url, pairs, expected, body)
