"""Twilio request signatures (``X-Twilio-Signature``): compute and validate.

Twilio signs every webhook request with HMAC-SHA1, keyed with the account's auth token, over

* the full URL it requested (query string included), followed by
* for form posts: each POST parameter name in sorted order, concatenated with each of its values
  (values of a repeated name sorted too), ``name + value`` with no separators;
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

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeAlias
from urllib.parse import parse_qs, urlsplit

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
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    parts = [url]
    for name in sorted(grouped):
        values = grouped[name]
        for value in sorted(set(values) if unique_values else values):
            parts.append(name)
            parts.append(value)
    # surrogatepass: a string that cannot be valid UTF-8 still hashes (and simply never matches).
    return "".join(parts).encode("utf-8", "surrogatepass")


def _sign(token: str, payload: bytes) -> bytes:
    digest = hmac.new(token.encode("utf-8", "surrogatepass"), payload, hashlib.sha1).digest()
    return base64.b64encode(digest)


def compute_signature(auth_token: str, url: str, params: Params | None = None) -> str:
    """Compute the ``X-Twilio-Signature`` Twilio sends for a request to ``url`` with ``params``.

    ``url`` is taken exactly as given (scheme, host, port, path and query as Twilio requested them).
    For a JSON webhook leave ``params`` out: the URL, ``bodySHA256`` included, is all that is
    signed.
    """
    if not isinstance(auth_token, str) or not isinstance(url, str):
        raise TypeError("auth_token and url must be str")
    return _sign(auth_token, _payload(url, _pairs(params))).decode("ascii")


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


def _body_hash_in_url(url: str) -> str | None:
    try:
        query = urlsplit(url).query
    except ValueError:
        return None
    values = parse_qs(query, keep_blank_values=True).get("bodySHA256")
    return values[0] if values else None


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

    body_hash = _body_hash_in_url(url)
    payloads: list[bytes]
    if body_hash is not None:
        if body is None:
            return False
        actual = body_sha256(body).encode("ascii")
        claimed = body_hash.strip().lower().encode("utf-8", "surrogatepass")
        if not hmac.compare_digest(actual, claimed):
            return False
        payloads = [_payload(variant, []) for variant in _url_variants(url)]
    else:
        try:
            pairs = _pairs(params)
        except TypeError:  # e.g. a file upload where form fields were expected
            return False
        payloads = [_payload(variant, pairs) for variant in _url_variants(url)]
        if len(set(pairs)) != len(pairs):
            payloads += [
                _payload(variant, pairs, unique_values=True) for variant in _url_variants(url)
            ]

    valid = False
    for token in tokens:
        if not isinstance(token, str):
            raise TypeError("auth tokens must be str")
        for payload in payloads:
            valid |= hmac.compare_digest(_sign(token, payload), expected)
    return valid
