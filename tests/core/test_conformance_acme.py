"""The Acme test provider passes the conformance kit (the kit's own end-to-end check)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import attrs
import httpx
import pytest

from ratatosk import (
    ChannelParameter,
    ChannelSchema,
    ConnectionSettings,
    Connector,
    ConnectorErrorCodes,
    ConnectorHealth,
    Err,
    ErrorInfo,
    Flow,
    HttpRequest,
    HttpResponse,
    Message,
    MessageBuilder,
    MessageSource,
    MessageStatus,
    MessagingErrorCodes,
    Ok,
    ParameterType,
    ReceiveResult,
    Result,
    SendResult,
    StatusUpdate,
)
from ratatosk.testing import (
    DEFAULT_SCHEMA,
    HTTP_FAILURES,
    ConnectorConformance,
    StatusCase,
    WebhookCase,
    bad_values,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "ratatosk-acme" / "src"))

from ratatosk_acme import ACME_SMS, SEND_ONLY, AcmeSmsConnector
from ratatosk_acme.fake import ACCOUNT_ID, API_KEY, FakeAcmeApi


class AcmeKit(ConnectorConformance):
    """The kit configured for Acme (not collected itself: see TestAcmeConformance)."""

    connector_class: ClassVar[type[Connector]] = AcmeSmsConnector

    def valid_settings(self) -> ConnectionSettings:
        return (ConnectionSettings().set_parameter("AccountId", ACCOUNT_ID)
                .set_parameter("ApiKey", API_KEY).set_parameter("BaseUrl", "https://acme.test"))

    def make_transport(self) -> httpx.MockTransport:
        return FakeAcmeApi().transport()

    def sample_messages(self) -> list[Message]:
        builder = MessageBuilder().from_phone("+15550001111").to_phone("+15550002222")
        return [
            builder.with_text("hello acme").build(),
            MessageBuilder().from_phone("+15550001111").to_phone("+15550003333")
            .with_text("see photo").with_media("https://example.com/p.jpg").build(),
            MessageBuilder().from_phone("+15550001111").to_phone("+15550004444")
            .with_text("short-lived").with_validity_period(600).build(),
        ]

    def invalid_messages(self) -> list[Message]:
        return [
            *super().invalid_messages(),
            MessageBuilder().from_phone("+15550001111").to_phone("+15550002222")
            .with_text("x").with_validity_period(0).build(),
            MessageBuilder().from_phone("+15550001111").to_phone("+15550002222")
            .with_text("x").with_property("Unknown", 1).build(),
        ]

    def inbound_sources(self) -> list[WebhookCase]:
        one = {"id": "in_1", "from": "+15550002222", "to": "+15550001111", "text": "hi"}
        two = {"messages": [one, {**one, "id": "in_2", "media": ["https://x.test/a.png"]}]}
        return [WebhookCase(MessageSource.json(one), 1), WebhookCase(MessageSource.json(two), 2)]

    def status_sources(self) -> list[StatusCase]:
        return [
            StatusCase(MessageSource.json({"id": "am_000001", "status": "delivered"}),
                       "am_000001", MessageStatus.DELIVERED),
            StatusCase(MessageSource.json({"id": "am_000002", "status": "failed"}),
                       status=MessageStatus.DELIVERY_FAILED),
        ]


class TestAcmeConformance(AcmeKit):
    """Every check of the kit, against the real Acme connector."""


# ---------------------------------------------------------------------------------------------
# The kit catches broken connectors: each defect below must make a specific check fail.
# ---------------------------------------------------------------------------------------------


def _kit(connector: type[Connector], base: type[AcmeKit] = AcmeKit) -> AcmeKit:
    kit: AcmeKit = type("BrokenKit", (base,), {"connector_class": connector})()
    return kit


class LeakyRepr(AcmeSmsConnector):
    def __repr__(self) -> str:
        return f"<LeakyRepr {self.settings.parameters}>"


class LogsSecrets(AcmeSmsConnector):
    def setup(self) -> Result[None]:
        logging.getLogger("acme.debug").debug("using key %s", self.parameters["ApiKey"])
        return super().setup()


class EchoesSecretInErrors(AcmeSmsConnector):
    def send_message_flow(self, message: Message) -> Flow[SendResult]:
        response = yield HttpRequest("POST", f"{self._base}/v1/fail")
        return Err(ErrorInfo(
            code="SEND_MESSAGE_FAILED",
            message=f"HTTP {response.status_code} with key {self.parameters['ApiKey']}"))


class ImplementsUndeclared(AcmeSmsConnector):
    default_schema = SEND_ONLY.derive(name=None)
    presets: ClassVar[Mapping[str, ChannelSchema]] = {}


class DeclaresUnimplemented(Connector):
    provider = "acme"
    connector_type = "sms"
    default_schema = ACME_SMS
    presets: ClassVar[Mapping[str, ChannelSchema]] = {}

    def send_message_flow(self, message: Message) -> Flow[SendResult]:
        return Err(ErrorInfo(code="SEND_MESSAGE_FAILED", message="never"))
        yield  # a flow


class WideningPreset(AcmeSmsConnector):
    presets: ClassVar[Mapping[str, ChannelSchema]] = {
        "Wide": ACME_SMS.derive(name="Wide", strict=False)}


class MisnamedPreset(AcmeSmsConnector):
    presets: ClassVar[Mapping[str, ChannelSchema]] = {"Alias": SEND_ONLY}


class CrashesOnBadWebhooks(AcmeSmsConnector):
    def parse_messages(self, source: MessageSource) -> Result[ReceiveResult]:
        payload = json.loads(source.body)  # raises on a malformed body
        return super().parse_messages(MessageSource.json(payload))


class NoRemoteId(AcmeSmsConnector):
    def send_message_flow(self, message: Message) -> Flow[SendResult]:
        result = yield from super().send_message_flow(message)
        if result.data is None:
            return result
        return Ok(SendResult(message.id, None, result.data.status))


class WrongStatusMapping(AcmeSmsConnector):
    def parse_message_status(self, source: MessageSource) -> Result[StatusUpdate]:
        result = super().parse_message_status(source)
        if result.data is None:
            return result
        return Ok(StatusUpdate(result.data.remote_message_id, MessageStatus.UNKNOWN))


def test_kit_catches_a_secret_in_repr() -> None:
    with pytest.raises(AssertionError, match="a secret value appears in repr of the connector"):
        _kit(LeakyRepr).test_secrets_not_in_repr_or_str()


def test_kit_catches_a_secret_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(AssertionError, match="a secret value appears in the logs"):
        _kit(LogsSecrets).test_secrets_not_in_errors_or_logs(caplog)


def test_kit_catches_a_secret_in_error_results(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(AssertionError, match="a secret value appears in an error result"):
        _kit(EchoesSecretInErrors).test_secrets_not_in_errors_or_logs(caplog)


def test_kit_catches_capability_mismatches() -> None:
    with pytest.raises(AssertionError, match="implemented but not declared"):
        _kit(ImplementsUndeclared).test_capabilities_declared_are_implemented()
    with pytest.raises(AssertionError, match="declared but not implemented"):
        _kit(DeclaresUnimplemented).test_capabilities_declared_are_implemented()


def test_kit_catches_bad_presets() -> None:
    with pytest.raises(AssertionError, match="widens the default schema"):
        _kit(WideningPreset).test_preset_is_restriction_of_default_schema("Wide")
    with pytest.raises(AssertionError, match="carries the name 'SendOnly'"):
        _kit(MisnamedPreset).test_preset_is_restriction_of_default_schema("Alias")


def test_kit_catches_crashes_on_malformed_webhooks() -> None:
    with pytest.raises(AssertionError, match="receive_messages crashed"):
        _kit(CrashesOnBadWebhooks).test_malformed_webhooks_are_refused()


def test_kit_catches_incomplete_send_results() -> None:
    with pytest.raises(AssertionError, match="provider's id"):
        _kit(NoRemoteId).test_sample_messages_send_blocking()


def test_kit_catches_wrong_status_parsing() -> None:
    with pytest.raises(AssertionError):
        _kit(WrongStatusMapping).test_status_sources_parse()


def test_kit_catches_fixtures_that_prove_nothing() -> None:
    class ValidAsInvalid(AcmeKit):
        def invalid_messages(self) -> list[Message]:
            return self.sample_messages()

    with pytest.raises(AssertionError, match="is valid for the schema"):
        _kit(AcmeSmsConnector, ValidAsInvalid).test_invalid_messages_fail_without_io()

    class NoWebhooks(AcmeKit):
        def inbound_sources(self) -> list[WebhookCase]:
            return []

    with pytest.raises(AssertionError, match="inbound_sources\\(\\) must give fixtures"):
        _kit(AcmeSmsConnector, NoWebhooks).test_inbound_sources_parse()


def test_kit_counts_requests_of_an_invalid_send() -> None:
    """A connector that skipped validation and sent anyway would be caught by the I/O count."""
    kit = _kit(AcmeSmsConnector)
    transport = kit.recording_transport()
    connector = kit.make_connector(transport=transport).blocking()
    assert connector.send_message(kit.sample_messages()[0]).is_success
    assert transport.count == 1
    assert isinstance(transport, httpx.BaseTransport)
    assert isinstance(transport, httpx.AsyncBaseTransport)


def test_presets_to_test_limits_the_parametrization() -> None:
    class OnlySendOnly(AcmeKit):
        presets_to_test = ["SendOnly"]

    assert list(OnlySendOnly._schemas()) == [DEFAULT_SCHEMA, "SendOnly"]

    class Unknown(AcmeKit):
        presets_to_test = ["Gold"]

    with pytest.raises(ValueError, match="Gold"):
        Unknown._schemas()


def test_bad_values_cover_every_rule() -> None:
    parameter = ChannelParameter("N", ParameterType.INTEGER, min_value=1, max_value=5)
    assert [(c.value, c.why) for c in bad_values(parameter)] == [
        ("not-a-number", "not-integer"), (0, "below-min"), (6, "above-max")]
    choice = ChannelParameter("Region", allowed_values=("us1", "ie1"))
    assert [c.why for c in bad_values(choice)] == ["not-allowed"]
    assert bad_values(ChannelParameter("Free")) == []


def test_preset_settings_drop_parameters_a_strict_preset_lacks() -> None:
    lean = SEND_ONLY.derive(name="Lean").remove_parameters("DefaultSender")
    needy = SEND_ONLY.derive(name="Needy").restrict_parameter("DefaultSender", required=True)

    class WithLeanPresets(AcmeSmsConnector):
        presets: ClassVar[Mapping[str, ChannelSchema]] = {"Lean": lean, "Needy": needy}

    class Kit(AcmeKit):
        def valid_settings(self) -> ConnectionSettings:
            return super().valid_settings().set_parameter("DefaultSender", "+15550001111")

    kit = _kit(WithLeanPresets, Kit)
    assert "DefaultSender" not in kit.preset_settings("Lean")
    assert "DefaultSender" in kit.preset_settings(DEFAULT_SCHEMA)
    kit.test_capability_gating("Lean")

    class NeedyKit(AcmeKit):
        pass

    with pytest.raises(AssertionError, match="preset_settings\\('Needy'\\) failed"):
        _kit(WithLeanPresets, NeedyKit).test_capability_gating("Needy")


# ---------------------------------------------------------------------------------------------
# HTTP failures and secrets in every operation: broken connectors the kit must reject
# ---------------------------------------------------------------------------------------------


def _wrapped(flow: Any, on_response: Any = None, on_result: Any = None) -> Any:
    """Run ``flow`` (a connector's generator), letting the broken connectors below look at the
    response (``on_response``) and change the result (``on_result``)."""
    try:
        request = next(flow)
        while True:
            response = yield request
            if on_response is not None:
                on_response(response)
            request = flow.send(response)
    except StopIteration as stop:
        result = stop.value
    return on_result(result) if on_result is not None else result


def _raise_on_error(response: HttpResponse) -> None:
    if response.status_code >= 400:
        raise RuntimeError(f"Acme answered HTTP {response.status_code}")


class RaisesOnHttpErrors(AcmeSmsConnector):
    """Raises on every HTTP error (the base turns the crash into a result; the kit must see it)."""

    def send_message_flow(self, message: Message) -> Flow[SendResult]:
        return _wrapped(super().send_message_flow(message), _raise_on_error)  # type: ignore[no-any-return]

    def get_message_status_flow(self, remote_id: str) -> Flow[StatusUpdate]:
        return _wrapped(super().get_message_status_flow(remote_id), _raise_on_error)  # type: ignore[no-any-return]

    def test_connection_flow(self) -> Flow[ConnectorHealth]:
        return _wrapped(super().test_connection_flow(), _raise_on_error)  # type: ignore[no-any-return]


def _evolve_error(**changes: Any) -> Any:
    def fix(result: Result[Any]) -> Result[Any]:
        error = result.error
        if error is not None and error.code == MessagingErrorCodes.RATE_LIMITED:
            return Err(attrs.evolve(error, **changes))
        return result
    return fix


class RateLimitNotRetryable(AcmeSmsConnector):
    """Answers 429 with RATE_LIMITED but says it is not worth retrying (only when sending)."""

    def send_message_flow(self, message: Message) -> Flow[SendResult]:
        return _wrapped(super().send_message_flow(message),  # type: ignore[no-any-return]
                        on_result=_evolve_error(retryable=False))


class RateLimitWrongCode(AcmeSmsConnector):
    """Answers a 429 to the status query with a generic code (retryable, but not RATE_LIMITED)."""

    def get_message_status_flow(self, remote_id: str) -> Flow[StatusUpdate]:
        return _wrapped(super().get_message_status_flow(remote_id),  # type: ignore[no-any-return]
                        on_result=_evolve_error(code=ConnectorErrorCodes.GET_STATUS_ERROR,
                                                domain=ConnectorErrorCodes.DOMAIN))


class UnavailableNotRetryable(AcmeSmsConnector):
    """Marks a 503 on the health check as final."""

    def test_connection_flow(self) -> Flow[ConnectorHealth]:
        def fix(result: Result[Any]) -> Result[Any]:
            if result.error is not None:
                return Err(attrs.evolve(result.error, retryable=False))
            return result
        return _wrapped(super().test_connection_flow(), on_result=fix)  # type: ignore[no-any-return]


class SecretInStatusErrors(AcmeSmsConnector):
    def get_message_status_flow(self, remote_id: str) -> Flow[StatusUpdate]:
        def leak(result: Result[Any]) -> Result[Any]:
            if result.error is None:
                return result
            return Err(attrs.evolve(
                result.error, message=f"{result.error.message} (key {self.parameters['ApiKey']})"))
        return _wrapped(super().get_message_status_flow(remote_id), on_result=leak)  # type: ignore[no-any-return]


class SecretInHealthLogs(AcmeSmsConnector):
    def test_connection_flow(self) -> Flow[ConnectorHealth]:
        logging.getLogger("acme.health").info("checking with %s", self.parameters["ApiKey"])
        return _wrapped(super().test_connection_flow())  # type: ignore[no-any-return]


class SecretInWebhookErrors(AcmeSmsConnector):
    def parse_message_status(self, source: MessageSource) -> Result[StatusUpdate]:
        result = super().parse_message_status(source)
        if result.error is None:
            return result
        return Err(attrs.evolve(
            result.error, message=f"bad callback for {self.parameters['ApiKey']}"))


class PercentEncodedSecretInErrors(AcmeSmsConnector):
    def send_message_flow(self, message: Message) -> Flow[SendResult]:
        def leak(result: Result[Any]) -> Result[Any]:
            if result.error is None:
                return result
            url = "https://acme.test/v1?key=" + quote(self.parameters["ApiKey"] + "/+ ", safe="")
            return Err(attrs.evolve(result.error, message=f"failed: {url}"))
        return _wrapped(super().send_message_flow(message), on_result=leak)  # type: ignore[no-any-return]


@pytest.mark.parametrize("failure", HTTP_FAILURES)
def test_the_real_acme_connector_passes_every_failure_check(failure: str) -> None:
    results = _kit(AcmeSmsConnector).check_http_failure(failure)
    assert len(results) == 6  # health, send, status; blocking and async


@pytest.mark.parametrize("failure", [f for f in HTTP_FAILURES if f.isdigit()])
def test_kit_catches_a_connector_raising_on_http_errors(failure: str) -> None:
    with pytest.raises(AssertionError, match=f"crashed on HTTP {failure}"):
        _kit(RaisesOnHttpErrors).test_http_failures_are_error_results(failure)


def test_the_raising_connector_passes_the_old_send_only_checks() -> None:
    """What the kit used to check (a send that works) does not notice the defect."""
    _kit(RaisesOnHttpErrors).test_sample_messages_send_blocking()
    _kit(RaisesOnHttpErrors).test_health_check()


@pytest.mark.parametrize(("connector", "failure", "match"), [
    (RateLimitNotRetryable, "429", "send_message \\(blocking\\) did not mark HTTP 429 retryable"),
    (RateLimitWrongCode, "429", "get_message_status .* with GET_STATUS_ERROR, not RATE_LIMITED"),
    (UnavailableNotRetryable, "503", "test_connection \\(blocking\\) did not mark HTTP 503"),
])
def test_kit_catches_misclassified_rate_limits_and_outages(
    connector: type[Connector], failure: str, match: str,
) -> None:
    with pytest.raises(AssertionError, match=match):
        _kit(connector).test_http_failures_are_error_results(failure)
    # the other failures are fine: the kit names exactly the broken one
    _kit(connector).test_http_failures_are_error_results("500")


@pytest.mark.parametrize(("connector", "match"), [
    (SecretInStatusErrors, "a secret value appears in an error result or result of "
                           "get_message_status"),
    (SecretInHealthLogs, "a secret value appears in the logs"),
    (SecretInWebhookErrors, "a secret value appears in an error result or result of "
                            "receive_message_status"),
    (PercentEncodedSecretInErrors, "a secret value appears in an error result or result of "
                                   "send_message on"),
])
def test_kit_catches_secrets_in_every_operation(
    connector: type[Connector], match: str, caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(AssertionError, match=match):
        _kit(connector).test_secrets_not_in_errors_or_logs(caplog)
