"""The message model: endpoints, contents, Message and MessageBuilder (with the seed's examples)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import attrs
import pytest

from ratatosk import (
    Endpoint,
    EndpointType,
    LocationContent,
    MediaContent,
    MediaType,
    Message,
    MessageBuilder,
    MessageContentType,
    MessageProperties,
    MultipartContent,
    TemplateContent,
    TextContent,
)
from ratatosk._models import CONTENT_CLASSES, new_message_id


def test_seed_text_sms() -> None:
    message = (
        MessageBuilder()
        .with_id("sms-1")
        .from_phone("+15550001111")
        .to_phone("+15550002222")
        .with_text("Hello from Twilio SMS")
        .build()
    )
    assert message.id == "sms-1"
    assert message.sender == Endpoint(EndpointType.PHONE_NUMBER, "+15550001111")
    assert message.receiver == Endpoint(EndpointType.PHONE_NUMBER, "+15550002222")
    assert message.content == TextContent("Hello from Twilio SMS")
    assert message.text == "Hello from Twilio SMS"
    assert message.media == ()
    assert message.properties == {}


def test_seed_mms() -> None:
    media = MediaContent(MediaType.IMAGE, "photo.jpg", "https://example.com/photo.jpg")
    message = (
        MessageBuilder()
        .with_id("mms-1")
        .from_phone("+15550001111")
        .to_phone("+15550002222")
        .with_content(media)
        .build()
    )
    assert message.content is media
    assert message.media == (media,)
    assert message.text is None
    assert (media.media_type, media.file_name, media.file_url) == (
        MediaType.IMAGE, "photo.jpg", "https://example.com/photo.jpg")
    assert media.data is None and media.content_type is None
    assert media.kind is MessageContentType.MEDIA


def test_seed_custom_validity() -> None:
    message = (
        MessageBuilder()
        .from_phone("+15550001111")
        .to_phone("+15550002222")
        .with_text("Time-sensitive message")
        .with_validity_period(300)
        .build()
    )
    assert message.properties == {"ValidityPeriod": 300}
    assert len(message.id) == 32 and int(message.id, 16) >= 0


@pytest.mark.parametrize(("helper", "name", "value"), [
    ("with_max_price", "MaxPrice", Decimal("0.01")),
    ("with_provide_callback", "ProvideCallback", True),
    ("with_smart_encoded", "SmartEncoded", True),
])
def test_twilio_only_helpers_are_deprecated_on_the_core_builder(
        helper: str, name: str, value: object) -> None:
    builder = MessageBuilder()
    args = (0.01,) if helper == "with_max_price" else ()
    with pytest.warns(DeprecationWarning, match="TwilioMessageBuilder"):
        getattr(builder, helper)(*args)
    assert builder.build().properties == {name: value}


def test_property_helpers() -> None:
    when = datetime(2030, 1, 1, tzinfo=timezone.utc)
    builder = (
        MessageBuilder()
        .with_status_callback("https://example.com/cb")
        .with_send_at(when)
        .with_property("Custom", [1, 2])
    )
    assert builder.properties == {
        "StatusCallback": "https://example.com/cb", "SendAt": when, "Custom": [1, 2]}
    with pytest.raises(TypeError):
        builder.properties["x"] = 1  # type: ignore[index]
    # scheduling is neutral: no provider's own schedule field is added
    assert builder.build().properties == {
        "StatusCallback": "https://example.com/cb",
        "SendAt": when,
        "Custom": [1, 2],
    }


def test_send_at_keeps_an_explicit_schedule_type() -> None:
    message = (MessageBuilder().with_property("ScheduleType", "other")
               .with_send_at("2030-01-01T00:00:00Z").build())
    assert message.properties["ScheduleType"] == "other"
    assert message.properties["SendAt"] == "2030-01-01T00:00:00Z"


def test_with_property_overwrites() -> None:
    message = MessageBuilder().with_property("A", 1).with_property("A", 2).build()
    assert message.properties == {"A": 2}


def test_endpoints_from_builder() -> None:
    sender = Endpoint(EndpointType.EMAIL_ADDRESS, "a@example.com")
    receiver = Endpoint("user_id", "u-1")
    message = MessageBuilder().from_endpoint(sender).to_endpoint(receiver).build()
    assert message.sender is sender
    assert message.receiver == Endpoint(EndpointType.USER_ID, "u-1")
    assert receiver.type is EndpointType.USER_ID


def test_text_plus_media_becomes_multipart() -> None:
    message = (
        MessageBuilder()
        .with_text("Look")
        .with_media("https://example.com/a/cat.jpg")
        .with_media("https://example.com/b.mp4", MediaType.VIDEO, "clip.mp4",
                    content_type="video/mp4")
        .build()
    )
    content = message.content
    assert isinstance(content, MultipartContent)
    assert content.parts == (
        TextContent("Look"),
        MediaContent(MediaType.IMAGE, "cat.jpg", "https://example.com/a/cat.jpg"),
        MediaContent(MediaType.VIDEO, "clip.mp4", "https://example.com/b.mp4",
                     content_type="video/mp4"),
    )
    assert message.text == "Look"
    assert [m.file_name for m in message.media] == ["cat.jpg", "clip.mp4"]


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://example.com/", None),
        ("https://example.com", None),
        ("https://cdn.example.com/p/cat%20pic.jpg?sig=abc&x=1#frag", "cat pic.jpg"),
        ("https://example.com/files/report.pdf/", "report.pdf"),
    ],
)
def test_with_media_derives_the_file_name_from_the_url_path(url: str, name: str | None) -> None:
    message = MessageBuilder().with_media(url, "audio").build()
    assert message.content == MediaContent(MediaType.AUDIO, name, url)


def test_with_content_multipart_is_flattened_into_the_parts() -> None:
    multipart = MultipartContent([TextContent("a"), TextContent("b")])
    message = MessageBuilder().with_text("first").with_content(multipart).build()
    assert isinstance(message.content, MultipartContent)
    assert message.content.parts == (TextContent("first"), TextContent("a"), TextContent("b"))
    assert message.text == "first\na\nb"


def test_template_and_location() -> None:
    template = MessageBuilder().with_template("HX1", {"1": "Ann"}).build()
    assert template.content == TemplateContent("HX1", {"1": "Ann"})
    location = MessageBuilder().with_location(59.9, 10.7, label="Oslo").build()
    assert location.content == LocationContent(59.9, 10.7, "Oslo", None)


def test_build_without_content_and_a_fresh_id_each_time() -> None:
    builder = MessageBuilder().to_phone("+1")
    first, second = builder.build(), builder.build()
    assert first.content is None
    assert first.id != second.id
    assert first.properties is not second.properties


def test_built_messages_do_not_share_state_with_the_builder() -> None:
    builder = MessageBuilder().with_text("a").with_property("P", 1)
    message = builder.build()
    builder.with_property("P", 2)
    assert message.properties == {"P": 1}


def test_message_is_frozen() -> None:
    message = Message()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        message.id = "x"  # type: ignore[misc]


def test_message_defaults_and_properties_copy() -> None:
    source = {"A": 1}
    message = Message(properties=source)
    source["A"] = 2
    assert message.properties == {"A": 1}
    assert Message(properties=None).properties == {}


def test_invalid_values_are_rejected() -> None:
    with pytest.raises(ValueError):
        Endpoint("carrier_pigeon", "x")
    with pytest.raises(TypeError):
        Endpoint(EndpointType.PHONE_NUMBER, 15550001111)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        TextContent(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        MediaContent("hologram")
    with pytest.raises(TypeError):
        Message(id=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        LocationContent("north", 10.7)


def test_endpoint_helpers() -> None:
    endpoint = Endpoint.phone("+15550001111")
    assert endpoint.type is EndpointType.PHONE_NUMBER
    assert str(endpoint) == "+15550001111"


@pytest.mark.parametrize(
    ("mime", "expected"),
    [("image/png", MediaType.IMAGE), ("AUDIO/ogg", MediaType.AUDIO), ("video/mp4", MediaType.VIDEO),
     ("application/pdf", MediaType.FILE), (None, MediaType.FILE), ("", MediaType.FILE)],
)
def test_media_type_from_content_type(mime: str | None, expected: MediaType) -> None:
    assert MediaType.from_content_type(mime) is expected


def test_every_content_class_has_a_distinct_kind() -> None:
    kinds = [cls.kind for cls in CONTENT_CLASSES]
    assert len(set(kinds)) == len(kinds)
    assert all(isinstance(k, MessageContentType) for k in kinds)


def test_message_ids_are_unique_hex() -> None:
    ids = {new_message_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 32 and set(i) <= set("0123456789abcdef") for i in ids)


# -- keyword construction: Message.text / Message.media / Message.template --------------------


def test_message_text_equals_the_builders_message() -> None:
    built = (MessageBuilder().with_id("sms-1").from_phone("+15550001111")
             .to_phone("+15550002222").with_text("Hi").with_validity_period(300).build())
    made = Message.text("Hi", to="+15550002222", sender="+15550001111", id="sms-1",
                        properties={MessageProperties.VALIDITY_PERIOD: 300})
    assert made == built
    assert made.text == "Hi" and made.media == ()


def test_message_text_generates_ids_and_takes_endpoints() -> None:
    a = Message.text("Hi", to="+15550002222")
    b = Message.text("Hi", to="+15550002222")
    assert len(a.id) == 32 and a.id != b.id
    assert a.sender is None and a.properties == {}
    label = Endpoint(EndpointType.LABEL, "ACME")
    c = Message.text("Hi", to=Endpoint.phone("+15550002222"), sender=label)
    assert c.sender is label and c.receiver == Endpoint.phone("+15550002222")


def test_whatsapp_addresses_are_kept_as_written_like_the_builder() -> None:
    made = Message.text("Hi", to="whatsapp:+15550002222", sender="whatsapp:+15550001111")
    built = (MessageBuilder().from_phone("whatsapp:+15550001111")
             .to_phone("whatsapp:+15550002222").with_text("Hi").build())
    assert (made.sender, made.receiver) == (built.sender, built.receiver)
    assert made.receiver == Endpoint(EndpointType.PHONE_NUMBER, "whatsapp:+15550002222")


def test_message_media_one_url_gives_media_content_with_the_builders_file_name() -> None:
    made = Message.media("https://example.com/p/photo%201.jpg?sig=x", to="+15550002222",
                         sender="+15550001111", id="mms-1")
    built = (MessageBuilder().with_id("mms-1").from_phone("+15550001111")
             .to_phone("+15550002222").with_media("https://example.com/p/photo%201.jpg?sig=x")
             .build())
    assert made == built
    assert made.content == MediaContent(MediaType.IMAGE, "photo 1.jpg",
                                        "https://example.com/p/photo%201.jpg?sig=x")
    assert made.text is None


def test_message_media_several_media_and_text_give_multipart_in_order() -> None:
    card = MediaContent(MediaType.DOCUMENT, "card.vcf", "https://example.com/card.vcf")
    made = Message.media("https://example.com/a.png", "https://example.com/clip.mp4", card,
                         "https://example.com/song.mp3", text="Look", to="+15550002222")
    assert isinstance(made.content, MultipartContent)
    assert made.content.parts[0] == TextContent("Look")
    assert [m.media_type for m in made.media] == [MediaType.IMAGE, MediaType.VIDEO,
                                                  MediaType.DOCUMENT, MediaType.AUDIO]
    assert made.media[2] is card
    assert made.text == "Look"
    # one medium with text is multipart too; media_type overrides the guess for URLs
    one = Message.media("https://example.com/x", text="t", media_type="video", to="+1555")
    assert isinstance(one.content, MultipartContent)
    assert one.media[0].media_type is MediaType.VIDEO
    # an unknown extension defaults to IMAGE, as MessageBuilder.with_media does
    assert Message.media("https://example.com/x.unknownext", to="+1").media[0].media_type \
        is MediaType.IMAGE


def test_message_media_needs_media_and_checks_types() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Message.media(to="+15550002222")
    with pytest.raises(TypeError, match="media URL"):
        Message.media(42, to="+15550002222")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="text"):
        Message.media("https://example.com/a.png", text=5, to="+1")  # type: ignore[arg-type]


def test_message_template() -> None:
    made = Message.template("HX123", {"1": "Ada"}, to="whatsapp:+15550002222",
                            sender="whatsapp:+15550001111", id="t-1")
    built = (MessageBuilder().with_id("t-1").from_phone("whatsapp:+15550001111")
             .to_phone("whatsapp:+15550002222").with_template("HX123", {"1": "Ada"}).build())
    assert made == built
    assert Message.template("HX1", to="+1").content == TemplateContent("HX1", {})


def test_keyword_constructors_reject_bad_addresses_and_text() -> None:
    with pytest.raises(TypeError, match="to must be"):
        Message.text("Hi", to=15550002222)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sender must be"):
        Message.template("HX1", to="+1", sender=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="text"):
        Message.text(b"Hi", to="+1")  # type: ignore[arg-type]


def test_text_and_media_stay_read_only_values_on_instances() -> None:
    message = Message.text("Hi", to="+15550002222")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        message.text = "changed"  # type: ignore[misc]
    assert "plain-text message" in (Message.text.__doc__ or "")
    assert [f.name for f in attrs.fields(Message)] == [
        "id", "sender", "receiver", "content", "properties"]
    assert attrs.evolve(message, content=TextContent("Bye")).text == "Bye"


def test_docstring_examples_run() -> None:
    import doctest

    import ratatosk._models

    assert doctest.testmod(ratatosk._models).failed == 0
