"""The official ``vonage`` SDK against the Vonage sandbox: its Messages and SMS clients send to it
and read its answers (the SDK only speaks ``https://``, so a transport adapter in this test turns
its requests to ``http://`` on the way out; headers and bodies are the SDK's own)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter
from vonage_http_client.errors import HttpRequestError, RateLimitedError
from vonage_messages import Sms, WhatsappText
from vonage_sms import SmsMessage
from vonage_sms.errors import SmsError

from ratatosk_vonage.sandbox import MAGIC_ERRORS, VonageSandbox
from vonage import Auth, HttpClientOptions, Vonage

FROM = "15551230000"
TO = "15551239999"


class _PlainHttp(HTTPAdapter):
    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        assert request.url is not None
        request.url = request.url.replace("https://", "http://", 1)
        return super().send(request, *args, **kwargs)


def _client(sandbox: VonageSandbox, auth: Auth) -> Vonage:
    host = sandbox.base_url.removeprefix("http://")
    client = Vonage(auth, HttpClientOptions(api_host=host, rest_host=host))
    client.http_client._session.mount("https://", _PlainHttp())
    return client


@pytest.fixture
def sandbox() -> Iterator[VonageSandbox]:
    with VonageSandbox() as sb:
        yield sb


def test_sdk_messages_send_with_basic_auth(sandbox: VonageSandbox) -> None:
    client = _client(sandbox, Auth(api_key=sandbox.api_key, api_secret=sandbox.api_secret))
    answer = client.messages.send(Sms(to=TO, from_=FROM, text="from the SDK", client_ref="c1"))
    held = sandbox.get_message(answer.message_uuid)
    assert held is not None and (held.text, held.client_ref) == ("from the SDK", "c1")
    answer = client.messages.send(WhatsappText(to=TO, from_=FROM, text="wa"))
    assert sandbox.get_message(answer.message_uuid).channel == "whatsapp"  # type: ignore[union-attr]


def test_sdk_messages_send_with_an_application_jwt(sandbox: VonageSandbox) -> None:
    application_id, private_key = sandbox.add_application()
    client = _client(sandbox, Auth(application_id=application_id, private_key=private_key))
    answer = client.messages.send(Sms(to=TO, from_=FROM, text="jwt"))
    assert sandbox.get_message(answer.message_uuid) is not None


def test_sdk_reads_the_sandbox_problems(sandbox: VonageSandbox) -> None:
    client = _client(sandbox, Auth(api_key=sandbox.api_key, api_secret="wrong"))
    with pytest.raises(HttpRequestError) as refused:
        client.messages.send(Sms(to=TO, from_=FROM, text="x"))
    assert refused.value.response.status_code == 401
    good = _client(sandbox, Auth(api_key=sandbox.api_key, api_secret=sandbox.api_secret))
    throttled = next(n for n, k in MAGIC_ERRORS.items() if k == "throttled")
    with pytest.raises(RateLimitedError):
        good.messages.send(Sms(to=throttled, from_=FROM, text="x"))


def test_sdk_sms_send_with_basic_auth_reads_every_part(sandbox: VonageSandbox) -> None:
    client = _client(sandbox, Auth(api_key=sandbox.api_key, api_secret=sandbox.api_secret))
    answer = client.sms.send(SmsMessage(to=TO, from_=FROM, text="x" * 200, client_ref="r"))
    assert answer.message_count == "2"
    assert [m.status for m in answer.messages] == ["0", "0"]
    held = sandbox.get_message(answer.messages[0].message_id)
    assert held is not None and held.part_ids == tuple(m.message_id for m in answer.messages)
    # (the SDK's signed SMS sends are not used: it signs the model's unset fields as "None" and
    # then leaves them out of the form, so no server could check that sig; the sandbox's sig
    # check is tested in test_vonage_sandbox.py with signature.compute_sms_signature)
    barred = next(n for n, k in MAGIC_ERRORS.items() if k == "barred")
    with pytest.raises(SmsError, match="error code 7"):
        client.sms.send(SmsMessage(to=barred, from_=FROM, text="x"))
