"""Vonage signatures: JWT (Messages API) and ``sig`` (SMS API), checked against the official SDK."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from vonage_http_client.auth import Auth
from vonage_jwt.verify_jwt import verify_signature

from ratatosk_vonage.signature import (
    CLOCK_SKEW,
    SIGNATURE_METHODS,
    compute_sms_signature,
    payload_hash,
    sign_jwt,
    verify_jwt,
    verify_sms_signature,
)

SECRET = "vonage-signature-secret-000000001"
OLD_SECRET = "vonage-signature-secret-000000002"
NOW = 1_760_000_000
BODY = b'{"message_uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab","status":"delivered"}'


def claims(body: bytes = BODY, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"iat": NOW, "jti": str(uuid.uuid4()), "iss": "Vonage",
                            "payload_hash": payload_hash(body), "api_key": "abcd1234"}
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def reason(problem: Any) -> str | None:
    return None if problem is None else problem.reason


# -- JWT --------------------------------------------------------------------------------------


def test_the_sdk_accepts_what_we_sign_and_refuses_another_secret() -> None:
    token = sign_jwt(SECRET, claims(iat=int(time.time())))
    assert verify_signature(token, SECRET) is True
    assert verify_signature(token, OLD_SECRET) is False


def test_we_accept_what_the_sdk_signs() -> None:
    import jwt  # PyJWT: what vonage-jwt builds and decodes tokens with

    token = jwt.encode(claims(), SECRET, algorithm="HS256")
    assert verify_signature(token, SECRET) is True
    assert verify_jwt(token, [SECRET], body=BODY, now=NOW + 5) is None


def test_rotation_any_secret_matches() -> None:
    token = sign_jwt(OLD_SECRET, claims())
    assert verify_jwt(token, [SECRET, OLD_SECRET], body=BODY, now=NOW) is None
    assert reason(verify_jwt(token, [SECRET], body=BODY, now=NOW)) == "mismatch"
    assert verify_jwt(token, OLD_SECRET, body=BODY, now=NOW) is None


def test_tampered_body_is_refused() -> None:
    token = sign_jwt(SECRET, claims())
    assert reason(verify_jwt(token, [SECRET], body=BODY + b" ", now=NOW)) == "payload_hash"
    assert reason(verify_jwt(token, [SECRET], body=BODY.replace(b"delivered", b"read"),
                             now=NOW)) == "payload_hash"


def test_missing_payload_hash_is_refused() -> None:
    token = sign_jwt(SECRET, claims(payload_hash=None))
    assert reason(verify_jwt(token, [SECRET], body=BODY, now=NOW)) == "payload_hash"


def test_payload_hash_is_compared_case_insensitively() -> None:
    token = sign_jwt(SECRET, claims(payload_hash=payload_hash(BODY).upper()))
    assert verify_jwt(token, [SECRET], body=BODY, now=NOW) is None


def test_stale_future_and_missing_iat() -> None:
    token = sign_jwt(SECRET, claims())
    assert verify_jwt(token, [SECRET], body=BODY, now=NOW + 300) is None
    assert reason(verify_jwt(token, [SECRET], body=BODY, now=NOW + 301)) == "stale"
    assert verify_jwt(token, [SECRET], body=BODY, now=NOW + 1000, max_age=3600) is None
    assert verify_jwt(token, [SECRET], body=BODY, now=NOW - CLOCK_SKEW) is None
    assert reason(verify_jwt(token, [SECRET], body=BODY, now=NOW - CLOCK_SKEW - 1)) == "future"
    assert reason(verify_jwt(sign_jwt(SECRET, claims(iat=None)), [SECRET], body=BODY,
                             now=NOW)) == "stale"
    assert reason(verify_jwt(sign_jwt(SECRET, claims(iat="1760000000")), [SECRET], body=BODY,
                             now=NOW)) == "stale"


def test_expired_exp_is_refused() -> None:
    token = sign_jwt(SECRET, claims(exp=NOW + 10))
    assert verify_jwt(token, [SECRET], body=BODY, now=NOW + 10) is None
    assert reason(verify_jwt(token, [SECRET], body=BODY,
                             now=NOW + 11 + CLOCK_SKEW)) == "expired"


def test_other_algorithms_and_none_are_refused() -> None:
    import jwt

    hs512 = jwt.encode(claims(), SECRET * 2, algorithm="HS512")
    assert reason(verify_jwt(hs512, [SECRET * 2], body=BODY, now=NOW)) == "algorithm"
    assert reason(verify_jwt(hs512, [SECRET], body=BODY, now=NOW)) == "algorithm"
    unsigned = jwt.encode(claims(), "", algorithm="none")
    assert reason(verify_jwt(unsigned, [SECRET], body=BODY, now=NOW)) == "algorithm"


@pytest.mark.parametrize("token", [None, "", "abc", "a.b", "a.b.c", "a.b.c.d", "é.é.é",
                                   "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln", "x" * 10_000])
def test_malformed_tokens_are_problems_not_exceptions(token: str | None) -> None:
    problem = verify_jwt(token, [SECRET], body=BODY, now=NOW)
    assert problem is not None and problem.reason in ("missing", "malformed")


def test_a_tampered_signature_or_claim_is_refused() -> None:
    token = sign_jwt(SECRET, claims())
    header, payload, signature = token.split(".")
    other = sign_jwt(SECRET, claims(iat=NOW + 1)).split(".")[1]
    assert reason(verify_jwt(f"{header}.{other}.{signature}", [SECRET], body=BODY,
                             now=NOW)) == "mismatch"
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert reason(verify_jwt(f"{header}.{payload}.{flipped}", [SECRET], body=BODY,
                             now=NOW)) == "mismatch"


def test_no_secret_is_a_problem() -> None:
    token = sign_jwt(SECRET, claims())
    assert reason(verify_jwt(token, [], body=BODY, now=NOW)) == "no_secret"
    assert reason(verify_jwt(token, ["", ""], body=BODY, now=NOW)) == "no_secret"


def test_problems_never_show_the_secret() -> None:
    token = sign_jwt(SECRET, claims())
    problem = verify_jwt(token, [OLD_SECRET], body=BODY, now=NOW)
    assert problem is not None and OLD_SECRET not in repr(problem) and SECRET not in repr(problem)


# -- SMS API sig ------------------------------------------------------------------------------


def sms_params(**extra: str) -> dict[str, str]:
    base = {"msisdn": "447700900001", "to": "447700900000", "messageId": "0A0000000123ABCD1",
            "text": "Hello & welcome = yes", "type": "text", "keyword": "HELLO",
            "message-timestamp": "2026-12-04 12:00:00", "timestamp": str(NOW),
            "nonce": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"}
    base.update(extra)
    return base


def sdk_auth(method: str, secret: str = SECRET) -> Auth:
    return Auth(api_key="abcd1234", signature_secret=secret, signature_method=method)


@pytest.mark.parametrize("method", SIGNATURE_METHODS)
def test_sdk_and_we_agree_on_sms_signatures(method: str) -> None:
    params = sms_params()
    ours = compute_sms_signature(params, SECRET, method)
    assert ours == sdk_auth(method).sign_params(dict(params))
    assert sdk_auth(method).check_signature({**params, "sig": ours}) is True
    # we accept what the SDK signs, also in upper case
    theirs = sdk_auth(method).sign_params(dict(params))
    assert verify_sms_signature({**params, "sig": theirs}, [SECRET], method=method,
                                now=NOW) is None
    assert verify_sms_signature({**params, "sig": theirs.upper()}, [SECRET], method=method,
                                now=NOW) is None


@pytest.mark.parametrize("method", SIGNATURE_METHODS)
def test_sms_signature_refuses_changes(method: str) -> None:
    params = sms_params()
    sig = compute_sms_signature(params, SECRET, method)
    ok = {**params, "sig": sig}
    assert verify_sms_signature(ok, [SECRET], method=method, now=NOW) is None
    # wrong secret, changed value, missing parameter, extra parameter
    assert reason(verify_sms_signature(ok, [OLD_SECRET], method=method, now=NOW)) == "mismatch"
    assert reason(verify_sms_signature({**ok, "text": "Hello"}, [SECRET], method=method,
                                       now=NOW)) == "mismatch"
    missing = {k: v for k, v in ok.items() if k != "keyword"}
    assert reason(verify_sms_signature(missing, [SECRET], method=method, now=NOW)) == "mismatch"
    assert reason(verify_sms_signature({**ok, "extra": "1"}, [SECRET], method=method,
                                       now=NOW)) == "mismatch"
    other = next(m for m in SIGNATURE_METHODS if m != method)
    assert reason(verify_sms_signature(ok, [SECRET], method=other, now=NOW)) == "mismatch"


def test_sms_signature_replaces_ampersand_and_equals_in_values() -> None:
    a = compute_sms_signature({"text": "a&b=c", "timestamp": "1"}, SECRET, "sha256")
    b = compute_sms_signature({"text": "a_b_c", "timestamp": "1"}, SECRET, "sha256")
    assert a == b


def test_sms_signature_rotation_and_freshness() -> None:
    params = sms_params()
    ok = {**params, "sig": compute_sms_signature(params, OLD_SECRET, "sha1")}
    assert verify_sms_signature(ok, [SECRET, OLD_SECRET], method="sha1", now=NOW) is None
    assert verify_sms_signature(ok, [SECRET, OLD_SECRET], method="sha1", now=NOW + 300) is None
    assert reason(verify_sms_signature(ok, [OLD_SECRET], method="sha1", now=NOW + 301)) == "stale"
    assert reason(verify_sms_signature(ok, [OLD_SECRET], method="sha1",
                                       now=NOW - CLOCK_SKEW - 1)) == "future"
    no_stamp = {k: v for k, v in params.items() if k != "timestamp"}
    signed = {**no_stamp, "sig": compute_sms_signature(no_stamp, SECRET, "md5")}
    assert reason(verify_sms_signature(signed, [SECRET], now=NOW)) == "stale"
    bad_stamp = {**no_stamp, "timestamp": "soon"}
    signed = {**bad_stamp, "sig": compute_sms_signature(bad_stamp, SECRET, "md5")}
    assert reason(verify_sms_signature(signed, [SECRET], now=NOW)) == "stale"


def test_sms_signature_missing_sig_and_no_secret() -> None:
    assert reason(verify_sms_signature(sms_params(), [SECRET], now=NOW)) == "missing"
    assert reason(verify_sms_signature({**sms_params(), "sig": "é"}, [SECRET],
                                       now=NOW)) == "mismatch"
    assert reason(verify_sms_signature({**sms_params(), "sig": "00"}, [], now=NOW)) == "no_secret"


def test_unknown_method_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="unknown signature method"):
        compute_sms_signature(sms_params(), SECRET, "md5hash")
    with pytest.raises(ValueError):
        verify_sms_signature(sms_params(sig="00"), [SECRET], method="crc32", now=NOW)
