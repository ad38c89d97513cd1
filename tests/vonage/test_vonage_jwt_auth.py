"""JWT (RS256) authentication of Messages API sends: ApplicationId + PrivateKey.

The token verifies with the application's public key (PyJWT, which the official SDK signs with),
carries the claims the SDK's ``vonage_jwt.JwtClient`` gives (application_id, iat, jti, exp), and
the whole request matches the one the official SDK sends for the same message.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from requests.adapters import BaseAdapter
from requests.models import PreparedRequest, Response
from vonage_jwt import JwtClient
from vonage_messages.models import Sms

import ratatosk_vonage
from ratatosk import Message, MessageBuilder, MessagingErrorCodes, Result, SendResult
from ratatosk_vonage import VonageMessagesConnector
from vonage import Auth, HttpClientOptions, Vonage

APP = "aaaaaaaa-bbbb-4ccc-8ddd-000000000042"
UUID = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption()).decode()
PUBLIC = KEY.public_key()


class Recorder:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(202, json={"message_uuid": UUID})


def message() -> Message:
    return (MessageBuilder().from_phone("+447700900001").to_phone("+447700900000")
            .with_text("Hello with a JWT").with_property("ClientRef", "jwt-1").build())


def connector(recorder: Recorder, **settings: Any) -> VonageMessagesConnector:
    values: dict[str, Any] = {"ApplicationId": APP, "PrivateKey": PEM, **settings}
    return VonageMessagesConnector(settings={k: v for k, v in values.items() if v is not None},
                                   http_transport=httpx.MockTransport(recorder))


def bearer(request: httpx.Request) -> str:
    scheme, _, token = request.headers["authorization"].partition(" ")
    assert scheme == "Bearer"
    return token


def test_the_token_verifies_with_the_public_key_and_has_the_sdk_claims() -> None:
    recorder = Recorder()
    before = int(time.time())
    result = connector(recorder).blocking().send_message(message())
    assert result.is_success, result.error
    token = bearer(recorder.requests[0])
    claims = jwt.decode(token, PUBLIC, algorithms=["RS256"])
    assert claims["application_id"] == APP
    assert before <= claims["iat"] <= int(time.time())
    assert claims["exp"] == claims["iat"] + 15 * 60
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 32
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "typ": "JWT"}
    # the SDK's own token for this application has the same header and claim names
    sdk_token = JwtClient(APP, PEM).generate_application_jwt().decode()
    assert jwt.get_unverified_header(sdk_token) == jwt.get_unverified_header(token)
    assert set(jwt.decode(sdk_token, PUBLIC, algorithms=["RS256"])) == set(claims)
    # another key does not verify it
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, other, algorithms=["RS256"])


def test_every_request_has_a_new_token_async_and_blocking() -> None:
    recorder = Recorder()
    c = connector(recorder)
    assert c.blocking().send_message(message()).is_success
    result: Result[SendResult] = asyncio.run(c.send_message(message()))
    assert result.is_success
    assert c.auth_scheme == "jwt"
    first, second = (jwt.decode(bearer(r), PUBLIC, algorithms=["RS256"])
                     for r in recorder.requests)
    assert first["jti"] != second["jti"]


def test_basic_auth_when_no_application_id() -> None:
    recorder = Recorder()
    c = connector(recorder, ApplicationId=None, PrivateKey=None, ApiKey="abcd1234",
                  ApiSecret="s3cr3t-Vonage-42")
    assert c.blocking().send_message(message()).is_success
    assert c.auth_scheme == "basic"
    assert recorder.requests[0].headers["authorization"].startswith("Basic ")


def test_jwt_wins_over_basic_when_both_are_given() -> None:
    recorder = Recorder()
    c = connector(recorder, ApiKey="abcd1234", ApiSecret="s3cr3t-Vonage-42")
    assert c.blocking().send_message(message()).is_success
    jwt.decode(bearer(recorder.requests[0]), PUBLIC, algorithms=["RS256"])


def test_private_key_from_a_file_and_with_escaped_newlines(tmp_path: Path) -> None:
    path = tmp_path / "private.key"
    path.write_text(PEM)
    for value in (str(path), PEM.replace("\n", "\\n")):
        recorder = Recorder()
        assert connector(recorder, PrivateKey=value).blocking().send_message(message()).is_success
        jwt.decode(bearer(recorder.requests[0]), PUBLIC, algorithms=["RS256"])


def _ec_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.mark.parametrize("settings,field", [
    ({"PrivateKey": None, "ApiKey": "abcd1234", "ApiSecret": "s3cr3t-Vonage-42"}, "PrivateKey"),
    ({"ApplicationId": None, "ApiKey": "abcd1234", "ApiSecret": "s3cr3t-Vonage-42"},
     "ApplicationId"),
    ({"PrivateKey": "-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----"},
     "PrivateKey"),
    ({"PrivateKey": "/nonexistent/private.key"}, "PrivateKey"),
    ({"PrivateKey": "EC"}, "PrivateKey"),
])
def test_bad_jwt_settings_are_configuration_errors(settings: dict[str, Any], field: str) -> None:
    if settings.get("PrivateKey") == "EC":
        settings = {"PrivateKey": _ec_pem()}
    recorder = Recorder()
    c = connector(recorder, **settings)
    result = c.blocking().send_message(message())
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.INVALID_CONFIGURATION
    assert field in [issue.field for issue in result.error.issues]
    assert recorder.requests == []
    text = repr(result.error) + str(result.error)
    assert "not-a-key" not in text and "BEGIN" not in text and PEM[40:80] not in text


def test_without_cryptography_jwt_is_a_clear_configuration_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # as if the jwt extra were not installed: importing cryptography fails
    monkeypatch.delitem(sys.modules, "ratatosk_vonage._jwt_auth", raising=False)
    monkeypatch.delattr(ratatosk_vonage, "_jwt_auth", raising=False)
    for name in [n for n in sys.modules if n == "cryptography" or n.startswith("cryptography.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "cryptography", None)
    recorder = Recorder()
    result = connector(recorder).blocking().send_message(message())
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.INVALID_CONFIGURATION
    assert "ratatosk-messaging-vonage[jwt]" in result.error.message
    assert result.error.details["missing_dependency"] == "cryptography"
    assert recorder.requests == []
    # Basic authentication does not need it
    basic = connector(recorder, ApplicationId=None, PrivateKey=None, ApiKey="abcd1234",
                      ApiSecret="s3cr3t-Vonage-42")
    assert basic.blocking().send_message(message()).is_success


class SdkRecorder(BaseAdapter):  # type: ignore[misc]
    """A requests adapter that records what the SDK would send and answers 202."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[PreparedRequest] = []

    def send(self, request: PreparedRequest, **kwargs: Any) -> Response:
        self.requests.append(request)
        response = Response()
        response.status_code = 202
        response._content = json.dumps({"message_uuid": UUID}).encode()
        response.headers["Content-Type"] = "application/json"
        response.request = request
        response.url = request.url or ""
        return response

    def close(self) -> None:
        pass


def test_the_request_matches_the_sdks() -> None:
    client = Vonage(Auth(application_id=APP, private_key=PEM), HttpClientOptions())
    adapter = SdkRecorder()
    client.http_client._session.mount("https://", adapter)
    client.messages.send(Sms(to="447700900000", from_="447700900001", text="Hello with a JWT",
                             client_ref="jwt-1"))
    (theirs,) = adapter.requests

    recorder = Recorder()
    assert connector(recorder).blocking().send_message(message()).is_success
    (ours,) = recorder.requests

    assert ours.method == theirs.method == "POST"
    assert str(ours.url) == theirs.url == "https://api.nexmo.com/v1/messages"
    assert json.loads(ours.content) == json.loads(theirs.body)
    assert ours.headers["content-type"] == theirs.headers["Content-Type"]
    assert ours.headers["accept"] == theirs.headers["Accept"]
    auth = theirs.headers["Authorization"]
    their_token = (auth.decode() if isinstance(auth, bytes) else auth).removeprefix("Bearer ")
    our_claims = jwt.decode(bearer(ours), PUBLIC, algorithms=["RS256"])
    their_claims = jwt.decode(their_token, PUBLIC, algorithms=["RS256"])
    assert set(our_claims) == set(their_claims)
    assert our_claims["application_id"] == their_claims["application_id"] == APP
    assert our_claims["exp"] - our_claims["iat"] == their_claims["exp"] - their_claims["iat"]
    assert jwt.get_unverified_header(bearer(ours)) == jwt.get_unverified_header(their_token)
