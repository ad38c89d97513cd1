"""The message model: endpoints, contents, messages and the builder."""

from __future__ import annotations

import enum
import mimetypes
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar, Generic, ParamSpec, TypeAlias, TypeVar, overload
from urllib.parse import unquote, urlsplit

from attrs import define, field, frozen, validators


class EndpointType(str, enum.Enum):
    """What kind of address an endpoint holds."""

    PHONE_NUMBER = "phone_number"
    EMAIL_ADDRESS = "email_address"
    URL = "url"
    TOPIC = "topic"
    ID = "id"
    USER_ID = "user_id"
    APPLICATION_ID = "application_id"
    DEVICE_ID = "device_id"
    LABEL = "label"
    ANY = "any"


@frozen(slots=True)
class Endpoint:
    """An address a message comes from or goes to."""

    type: EndpointType = field(converter=EndpointType)
    address: str = field(validator=validators.instance_of(str))

    @classmethod
    def phone(cls, number: str) -> Endpoint:
        return cls(EndpointType.PHONE_NUMBER, number)

    def __str__(self) -> str:
        return self.address


class MessageContentType(str, enum.Enum):
    """The kinds of content a message can carry."""

    PLAIN_TEXT = "plain_text"
    HTML = "html"
    MULTIPART = "multipart"
    TEMPLATE = "template"
    MEDIA = "media"
    JSON = "json"
    BINARY = "binary"
    LOCATION = "location"
    BUTTON = "button"
    QUICK_REPLY = "quick_reply"
    CAROUSEL = "carousel"
    LIST_PICKER = "list_picker"


class MediaType(str, enum.Enum):
    """The broad kind of a media attachment."""

    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    DOCUMENT = "document"
    FILE = "file"

    @classmethod
    def from_content_type(cls, content_type: str | None) -> MediaType:
        """Guess the media type from a MIME type (``image/png`` -> IMAGE)."""
        major = (content_type or "").split("/", 1)[0].lower()
        return {"image": cls.IMAGE, "audio": cls.AUDIO, "video": cls.VIDEO}.get(major, cls.FILE)


@frozen(slots=True)
class TextContent:
    """Plain text."""

    kind: ClassVar[MessageContentType] = MessageContentType.PLAIN_TEXT
    text: str = field(validator=validators.instance_of(str))


@frozen(slots=True)
class HtmlContent:
    """HTML, with an optional plain-text alternative."""

    kind: ClassVar[MessageContentType] = MessageContentType.HTML
    html: str = field(validator=validators.instance_of(str))
    text: str | None = None


@frozen(slots=True)
class MediaContent:
    """A media attachment, by URL or by inline data."""

    kind: ClassVar[MessageContentType] = MessageContentType.MEDIA
    media_type: MediaType = field(converter=MediaType)
    file_name: str | None = None
    file_url: str | None = None
    data: bytes | None = None
    content_type: str | None = None


def _parameters(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(value or {})


@frozen(slots=True)
class TemplateContent:
    """A provider-side template (e.g. a WhatsApp Content SID) and its parameters."""

    kind: ClassVar[MessageContentType] = MessageContentType.TEMPLATE
    template_id: str = field(validator=validators.instance_of(str))
    parameters: dict[str, Any] = field(factory=dict, converter=_parameters)


@frozen(slots=True)
class LocationContent:
    """A geographic location."""

    kind: ClassVar[MessageContentType] = MessageContentType.LOCATION
    latitude: float = field(converter=float)
    longitude: float = field(converter=float)
    label: str | None = None
    address: str | None = None


@frozen(slots=True)
class JsonContent:
    """Structured data."""

    kind: ClassVar[MessageContentType] = MessageContentType.JSON
    data: Any = None


@frozen(slots=True)
class BinaryContent:
    """Raw bytes with their MIME type."""

    kind: ClassVar[MessageContentType] = MessageContentType.BINARY
    data: bytes = field(validator=validators.instance_of(bytes))
    content_type: str = "application/octet-stream"


@frozen(slots=True)
class ButtonContent:
    """A button the user pressed (inbound) or offers (outbound): its text and payload."""

    kind: ClassVar[MessageContentType] = MessageContentType.BUTTON
    text: str
    payload: str | None = None


def _parts(value: Iterable[Content]) -> tuple[Content, ...]:
    return tuple(value)


@frozen(slots=True)
class MultipartContent:
    """Several parts in one message, such as text plus several media."""

    kind: ClassVar[MessageContentType] = MessageContentType.MULTIPART
    parts: tuple[Content, ...] = field(converter=_parts)

    @property
    def text(self) -> str | None:
        """The text parts joined by newlines, or None when there is no text part."""
        texts = [p.text for p in self.parts if isinstance(p, TextContent)]
        return "\n".join(texts) if texts else None

    @property
    def media(self) -> tuple[MediaContent, ...]:
        return tuple(p for p in self.parts if isinstance(p, MediaContent))


Content: TypeAlias = (
    TextContent
    | HtmlContent
    | MediaContent
    | TemplateContent
    | LocationContent
    | JsonContent
    | BinaryContent
    | ButtonContent
    | MultipartContent
)
CONTENT_CLASSES: tuple[type[Any], ...] = (
    TextContent,
    HtmlContent,
    MediaContent,
    TemplateContent,
    LocationContent,
    JsonContent,
    BinaryContent,
    ButtonContent,
    MultipartContent,
)


def new_message_id() -> str:
    """A fresh message id (32 hex characters)."""
    return uuid.uuid4().hex


def _properties(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(value or {})


def _endpoint(value: str | Endpoint, role: str) -> Endpoint:
    """An :class:`Endpoint` for ``to=``/``sender=``: a string is a phone number, kept as written."""
    if isinstance(value, Endpoint):
        return value
    if isinstance(value, str):
        # like MessageBuilder.to_phone: "whatsapp:+E164" stays as it is (the WhatsApp connector
        # expects that form and adds the prefix to a bare +E164 number itself)
        return Endpoint(EndpointType.PHONE_NUMBER, value)
    raise TypeError(f"{role} must be a phone number string or an Endpoint, "
                    f"not {type(value).__name__}")


def _optional_endpoint(value: str | Endpoint | None, role: str) -> Endpoint | None:
    return None if value is None else _endpoint(value, role)


def media_from_url(
    url: str, media_type: MediaType | str | None = None, file_name: str | None = None,
    *, content_type: str | None = None,
) -> MediaContent:
    """A :class:`MediaContent` for a URL.

    ``file_name`` defaults to the last segment of the URL's path (no host, query or fragment).
    ``media_type`` defaults to the kind the file name's extension suggests (``.jpg`` -> IMAGE,
    ``.mp4`` -> VIDEO, ``.mp3`` -> AUDIO, ``.pdf`` -> FILE) and to IMAGE when there is none.
    """
    if not isinstance(url, str):
        raise TypeError(f"a media URL is a string, not {type(url).__name__}")
    if file_name is None:
        file_name = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]) or None
    if media_type is None:
        guessed = mimetypes.guess_type(file_name or "", strict=False)[0] if file_name else None
        media_type = MediaType.from_content_type(guessed) if guessed else MediaType.IMAGE
    return MediaContent(MediaType(media_type), file_name, url, content_type=content_type)


def _text_message(
    text: str,
    *,
    to: str | Endpoint,
    sender: str | Endpoint | None = None,
    id: str | None = None,
    properties: Mapping[str, Any] | None = None,
) -> Message:
    """A plain-text message (SMS, WhatsApp text...).

    ``to`` and ``sender`` are phone numbers (``"+15550002222"``, ``"whatsapp:+15550002222"``,
    kept as written) or :class:`Endpoint` objects; ``sender`` may be left out when the connector's
    settings name one (e.g. a Twilio ``MessagingServiceSid``). ``id`` defaults to a fresh id,
    like :class:`MessageBuilder`. ``properties`` are message properties (``ValidityPeriod``...).

    >>> Message.text("Hi", to="+15550002222", sender="+15550001111").text
    'Hi'
    """
    if not isinstance(text, str):
        raise TypeError(f"the text is a string, not {type(text).__name__}")
    return Message(
        id=new_message_id() if id is None else id,
        sender=_optional_endpoint(sender, "sender"),
        receiver=_endpoint(to, "to"),
        content=TextContent(text),
        properties=properties,
    )


def _media_message(
    *media: str | MediaContent,
    to: str | Endpoint,
    sender: str | Endpoint | None = None,
    text: str | None = None,
    media_type: MediaType | str | None = None,
    id: str | None = None,
    properties: Mapping[str, Any] | None = None,
) -> Message:
    """A media message (MMS, WhatsApp media): one or more media, with optional ``text``.

    Each medium is a URL (its :class:`MediaType` guessed from the file extension unless
    ``media_type`` is given; see :func:`media_from_url`) or a :class:`MediaContent`. One medium
    and no text give a :class:`MediaContent`; otherwise the content is a
    :class:`MultipartContent` of the text followed by the media, in order. ``to``, ``sender``,
    ``id`` and ``properties`` are as in :meth:`Message.text`.

    >>> Message.media("https://example.com/a.jpg", text="Look", to="+15550002222").text
    'Look'
    """
    if not media:
        raise ValueError("Message.media needs at least one media URL or MediaContent")
    parts: list[Content] = []
    if text is not None:
        if not isinstance(text, str):
            raise TypeError(f"the text is a string, not {type(text).__name__}")
        parts.append(TextContent(text))
    for item in media:
        if isinstance(item, MediaContent):
            parts.append(item)
        else:
            parts.append(media_from_url(item, media_type))
    content: Content = parts[0] if len(parts) == 1 else MultipartContent(parts)
    return Message(
        id=new_message_id() if id is None else id,
        sender=_optional_endpoint(sender, "sender"),
        receiver=_endpoint(to, "to"),
        content=content,
        properties=properties,
    )


def _message_text(message: Message) -> str | None:
    """The message's text, if it has any (plain text or the text parts of multipart)."""
    content = message.content
    if isinstance(content, TextContent):
        return content.text
    if isinstance(content, MultipartContent):
        return content.text
    return None


def _message_media(message: Message) -> tuple[MediaContent, ...]:
    """The message's media (one MediaContent, or the media parts of multipart), in order."""
    content = message.content
    if isinstance(content, MediaContent):
        return (content,)
    if isinstance(content, MultipartContent):
        return content.media
    return ()


_P = ParamSpec("_P")
_V = TypeVar("_V")


class _ConstructorOrValue(Generic[_P, _V]):
    """``Message.text(...)`` builds a message; ``message.text`` reads one.

    On the class this descriptor gives a keyword constructor; on an instance, a read-only value
    (like a property), so the constructors can carry the names of the values they set.
    """

    def __init__(self, build: Callable[_P, Message], read: Callable[[Message], _V]) -> None:
        self._build = build
        self._read = read
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None) -> Callable[_P, Message]: ...

    @overload
    def __get__(self, instance: Message, owner: type[Any] | None = None) -> _V: ...

    def __get__(
        self, instance: Message | None, owner: type[Any] | None = None
    ) -> Callable[_P, Message] | _V:
        if instance is None:
            return self._build
        return self._read(instance)


@frozen(slots=True)
class Message:
    """A message: who sends it, who receives it, what it carries, and provider properties.

    Build one with keywords (``Message.text``, ``Message.media``, ``Message.template``) or step by
    step with :class:`MessageBuilder`:

    >>> Message.text("Hi", to="+15550002222", sender="+15550001111").receiver
    Endpoint(type=<EndpointType.PHONE_NUMBER: 'phone_number'>, address='+15550002222')
    """

    id: str = field(factory=new_message_id, validator=validators.instance_of(str))
    sender: Endpoint | None = None
    receiver: Endpoint | None = None
    content: Content | None = None
    properties: dict[str, Any] = field(factory=dict, converter=_properties)

    # ``Message.text("Hi", to=...)`` builds a text message; ``message.text`` is its text.
    text = _ConstructorOrValue(_text_message, _message_text)
    # ``Message.media(url, ..., to=...)`` builds a media message; ``message.media`` its media.
    media = _ConstructorOrValue(_media_message, _message_media)

    @classmethod
    def template(
        cls,
        template_id: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        to: str | Endpoint,
        sender: str | Endpoint | None = None,
        id: str | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> Message:
        """A provider-side template message (e.g. a WhatsApp Content SID and its variables).

        ``to``, ``sender``, ``id`` and ``properties`` are as in :meth:`Message.text`.

        >>> Message.template("HX123", {"1": "Ada"}, to="whatsapp:+15550002222").content
        TemplateContent(template_id='HX123', parameters={'1': 'Ada'})
        """
        return cls(
            id=new_message_id() if id is None else id,
            sender=_optional_endpoint(sender, "sender"),
            receiver=_endpoint(to, "to"),
            content=TemplateContent(template_id, parameters),
            properties=properties,
        )


class MessageProperties:
    """Names of the well-known message properties (the seed's property table).

    ``VALIDITY_PERIOD``, ``STATUS_CALLBACK`` and ``SEND_AT`` are neutral (providers that support
    them read them: Twilio and Vonage both take a validity period and a per-message status URL).
    ``MAX_PRICE``, ``PROVIDE_CALLBACK``, ``SMART_ENCODED`` and ``SCHEDULE_TYPE`` are Twilio's
    own; their helpers are on ``ratatosk_twilio.TwilioMessageBuilder``.
    """

    VALIDITY_PERIOD = "ValidityPeriod"
    MAX_PRICE = "MaxPrice"
    PROVIDE_CALLBACK = "ProvideCallback"
    SMART_ENCODED = "SmartEncoded"
    STATUS_CALLBACK = "StatusCallback"
    SEND_AT = "SendAt"
    SCHEDULE_TYPE = "ScheduleType"


_B = TypeVar("_B", bound="MessageBuilder")


def _twilio_only(name: str) -> None:
    warnings.warn(
        f"MessageBuilder.{name} sets a Twilio-only property and moves to "
        f"ratatosk_twilio.TwilioMessageBuilder; it will leave the core's MessageBuilder",
        DeprecationWarning, stacklevel=3)


@define
class MessageBuilder:
    """Builds a :class:`Message` step by step; every ``with_*``/``from_*``/``to_*`` returns self.

    >>> builder = MessageBuilder().from_phone("+15550001111").to_phone("+15550002222")
    >>> builder.with_text("Hi").build().text
    'Hi'
    """

    _id: str | None = None
    _sender: Endpoint | None = None
    _receiver: Endpoint | None = None
    _parts: list[Content] = field(factory=list)
    _properties: dict[str, Any] = field(factory=dict)

    @property
    def properties(self) -> Mapping[str, Any]:
        """The message properties set so far (read-only view)."""
        return MappingProxyType(self._properties)

    def with_id(self: _B, message_id: str) -> _B:
        self._id = message_id
        return self

    def from_phone(self: _B, number: str) -> _B:
        self._sender = Endpoint(EndpointType.PHONE_NUMBER, number)
        return self

    def to_phone(self: _B, number: str) -> _B:
        self._receiver = Endpoint(EndpointType.PHONE_NUMBER, number)
        return self

    def from_endpoint(self: _B, endpoint: Endpoint) -> _B:
        self._sender = endpoint
        return self

    def to_endpoint(self: _B, endpoint: Endpoint) -> _B:
        self._receiver = endpoint
        return self

    def with_text(self: _B, text: str) -> _B:
        self._parts.append(TextContent(text))
        return self

    def with_content(self: _B, content: Content) -> _B:
        if isinstance(content, MultipartContent):
            self._parts.extend(content.parts)
        else:
            self._parts.append(content)
        return self

    def with_media(
        self: _B,
        url: str,
        media_type: MediaType | str = MediaType.IMAGE,
        file_name: str | None = None,
        *,
        content_type: str | None = None,
    ) -> _B:
        # the file name defaults to the last segment of the URL's path (no host, query, fragment)
        self._parts.append(media_from_url(url, media_type, file_name, content_type=content_type))
        return self

    def with_template(
        self: _B, template_id: str, parameters: Mapping[str, Any] | None = None
    ) -> _B:
        self._parts.append(TemplateContent(template_id, dict(parameters or {})))
        return self

    def with_location(
        self: _B,
        latitude: float,
        longitude: float,
        *,
        label: str | None = None,
        address: str | None = None,
    ) -> _B:
        self._parts.append(LocationContent(latitude, longitude, label, address))
        return self

    def with_property(self: _B, name: str, value: Any) -> _B:
        self._properties[name] = value
        return self

    def with_validity_period(self: _B, seconds: int) -> _B:
        return self.with_property(MessageProperties.VALIDITY_PERIOD, seconds)

    def with_max_price(self: _B, price: float | Decimal | str) -> _B:
        """Deprecated here: Twilio's ``MaxPrice``; use ``ratatosk_twilio.TwilioMessageBuilder``."""
        _twilio_only("with_max_price")
        return self.with_property(MessageProperties.MAX_PRICE, Decimal(str(price)))

    def with_provide_callback(self: _B, enabled: bool = True) -> _B:
        """Deprecated here: Twilio's ``ProvideCallback``; use
        ``ratatosk_twilio.TwilioMessageBuilder``."""
        _twilio_only("with_provide_callback")
        return self.with_property(MessageProperties.PROVIDE_CALLBACK, enabled)

    def with_smart_encoded(self: _B, enabled: bool = True) -> _B:
        """Deprecated here: Twilio's ``SmartEncoded``; use
        ``ratatosk_twilio.TwilioMessageBuilder``."""
        _twilio_only("with_smart_encoded")
        return self.with_property(MessageProperties.SMART_ENCODED, enabled)

    def with_status_callback(self: _B, url: str) -> _B:
        return self.with_property(MessageProperties.STATUS_CALLBACK, url)

    def with_send_at(self: _B, when: Any) -> _B:
        """Schedule the message (a timezone-aware datetime or an ISO 8601 string): the ``SendAt``
        property, for providers that schedule. Nothing provider-specific is added (Twilio's
        connector adds its ``ScheduleType=fixed`` itself)."""
        return self.with_property(MessageProperties.SEND_AT, when)

    def build(self) -> Message:
        parts = self._parts
        content: Content | None
        if not parts:
            content = None
        elif len(parts) == 1:
            content = parts[0]
        else:
            content = MultipartContent(tuple(parts))
        return Message(
            id=self._id or new_message_id(),
            sender=self._sender,
            receiver=self._receiver,
            content=content,
            properties=dict(self._properties),
        )
