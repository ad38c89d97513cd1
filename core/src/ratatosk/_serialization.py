"""Plain-JSON (un)structuring of messages, results, status updates and schemas, with cattrs.

Everything :func:`unstructure` returns is made of ``dict``/``list``/``str``/``int``/``float``/
``bool``/``None`` and survives ``json.dumps``/``json.loads``; :func:`structure` turns it back into
an equal object. The encoding:

- attrs classes are objects with one key per field, in field order; enums are their values;
  ``bytes`` are base64 text; ``Decimal`` is text (``"0.01"``); ``datetime`` is ISO 8601 text.
- Message content is tagged with ``"type"``, the content kind's value
  (``{"type": "plain_text", "text": "Hi"}``); multipart parts are tagged the same way, nested
  multipart included.
- Free-form values (message properties, template parameters, JSON content, ``additional_data``,
  ``ErrorInfo.details``, schema defaults and allowed values) are JSON values as they are, except
  these, written as one-key objects: ``{"$decimal": "0.01"}``,
  ``{"$datetime": "2024-05-01T12:00:00+00:00"}``, ``{"$date": "2024-05-01"}``,
  ``{"$bytes": "<base64>"}``, ``{"$tuple": [...]}`` and
  ``{"$float": "nan"|"inf"|"-inf"}``; an object that itself has one key spelled like a tag is
  wrapped as ``{"$dict": {...}}``. Any other value cannot be serialized.
- ``Result`` is ``{"data": ..., "error": ...}``; read it back with the data's type:
  ``structure(data, Result[SendResult])``.
- A :class:`~ratatosk.ChannelSchema` is its ``to_dict()`` form (``"format": "ratatosk.schema/1"``).

:func:`unstructure` raises :class:`~ratatosk.MessagingError` with ``MESSAGE_SERIALIZATION_FAILED``
for a value it cannot encode; :func:`structure` raises one with ``MESSAGE_DESERIALIZATION_FAILED``
for a payload it cannot read. The module-level :data:`converter` has every hook registered, for
applications that extend it.
"""

from __future__ import annotations

import base64
import binascii
import enum
import math
import types
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar, Union, get_args, get_origin

import attrs
import cattrs
from cattrs.errors import BaseValidationError, ForbiddenExtraKeysError
from cattrs.gen import make_dict_structure_fn

from ._errors import ErrorInfo, MessagingError, MessagingErrorCodes
from ._models import CONTENT_CLASSES, MessageContentType
from ._results import Err, Ok
from ._values import parse_datetime

__all__ = ["converter", "structure", "unstructure"]

T = TypeVar("T")

converter = cattrs.Converter()
"""The converter every (un)structuring here goes through, with all of Ratatosk's hooks."""


class PayloadError(ValueError):
    """A payload part cannot be read; the message says what was expected, never the value."""

    readable = True


class UnserializableValue(TypeError):
    """A value has no plain-JSON encoding."""


# --------------------------------------------------------------------------------------------
# scalars
# --------------------------------------------------------------------------------------------


def _unstructure_bytes(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _structure_bytes(value: Any, _cls: Any) -> bytes:
    if not isinstance(value, str):
        raise PayloadError("expected base64 text")
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise PayloadError("expected base64 text") from None


def _structure_decimal(value: Any, _cls: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise PayloadError("expected a decimal number as text")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise PayloadError("expected a decimal number as text") from None


def _structure_datetime(value: Any, _cls: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return parse_datetime(value)
        except ValueError:
            pass
    raise PayloadError("expected an ISO 8601 date and time")


def _unstructure_str(value: str) -> str:
    # str-valued enums (MessageStatus, EndpointType...) dispatch here: write their value
    return value.value if isinstance(value, enum.Enum) else value


def _structure_str(value: Any, cls: type[Any]) -> Any:
    if cls is not str and issubclass(cls, enum.Enum):
        try:
            return cls(value)
        except ValueError:
            choices = ", ".join(str(m.value) for m in cls)
            raise PayloadError(f"expected one of {choices}") from None
    if not isinstance(value, str):
        raise PayloadError("expected text")
    return value


def _structure_int(value: Any, _cls: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError("expected a whole number")
    return value


def _structure_float(value: Any, _cls: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PayloadError("expected a number")
    return float(value)


def _structure_bool(value: Any, _cls: Any) -> bool:
    if not isinstance(value, bool):
        raise PayloadError("expected true or false")
    return value


converter.register_unstructure_hook(str, _unstructure_str)
converter.register_structure_hook(str, _structure_str)
converter.register_structure_hook(int, _structure_int)
converter.register_structure_hook(float, _structure_float)
converter.register_structure_hook(bool, _structure_bool)
converter.register_unstructure_hook(bytes, _unstructure_bytes)
converter.register_structure_hook(bytes, _structure_bytes)
converter.register_unstructure_hook(Decimal, str)
converter.register_structure_hook(Decimal, _structure_decimal)
converter.register_unstructure_hook(datetime, datetime.isoformat)
converter.register_structure_hook(datetime, _structure_datetime)


# --------------------------------------------------------------------------------------------
# free-form values (Any)
# --------------------------------------------------------------------------------------------

_TAGS = frozenset({"$decimal", "$datetime", "$date", "$bytes", "$tuple", "$float", "$dict"})


def encode_value(value: Any) -> Any:
    """A free-form value as plain JSON, tagging what JSON cannot hold (see the module doc)."""
    if value is None or type(value) in (bool, int, str):
        return value
    if isinstance(value, enum.Enum):
        return encode_value(value.value)
    if isinstance(value, float):
        if math.isfinite(value):
            return float(value)
        return {"$float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, bytes):
        return {"$bytes": _unstructure_bytes(value)}
    if isinstance(value, list):
        return [encode_value(v) for v in value]
    if isinstance(value, tuple):
        return {"$tuple": [encode_value(v) for v in value]}
    if isinstance(value, Mapping):
        encoded = _encode_mapping(value)
        if len(encoded) == 1 and next(iter(encoded)) in _TAGS:
            return {"$dict": encoded}
        return encoded
    raise UnserializableValue(
        f"a value of type {type(value).__name__} cannot be serialized (use JSON values, Decimal,"
        " datetime, date, bytes or tuples)"
    )


def _encode_mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise UnserializableValue(f"expected a mapping, got {type(value).__name__}")
    result: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise UnserializableValue(
                f"mapping keys must be text to be serialized, got {type(key).__name__}"
            )
        result[str.__str__(key)] = encode_value(item)
    return result


def _decode_tag(tag: str, payload: Any) -> Any:
    if tag == "$dict":
        return _decode_mapping(payload)
    if tag == "$tuple":
        if not isinstance(payload, list):
            raise PayloadError("expected a list inside $tuple")
        return tuple(decode_value(v) for v in payload)
    if tag == "$decimal":
        if not isinstance(payload, str):
            raise PayloadError("expected text inside $decimal")
        return _structure_decimal(payload, Decimal)
    if tag == "$datetime":
        return _structure_datetime(payload, datetime)
    if tag == "$date":
        try:
            return date.fromisoformat(payload)
        except (TypeError, ValueError):
            raise PayloadError("expected an ISO 8601 date inside $date") from None
    if tag == "$bytes":
        return _structure_bytes(payload, bytes)
    # $float
    if payload not in ("nan", "inf", "-inf"):
        raise PayloadError("expected nan, inf or -inf inside $float")
    return float(payload)


def decode_value(value: Any) -> Any:
    """The inverse of :func:`encode_value`."""
    if isinstance(value, Mapping):
        if len(value) == 1:
            tag = next(iter(value))
            if tag in _TAGS:
                return _decode_tag(tag, value[tag])
        return _decode_mapping(value)
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    return value


def _decode_mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise PayloadError("expected an object")
    result: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise PayloadError("expected an object with text keys")
        result[key] = decode_value(item)
    return result


# --------------------------------------------------------------------------------------------
# attrs classes: the input must be an object; strict classes (schema parts) reject unknown keys
# --------------------------------------------------------------------------------------------

_STRICT: set[type[Any]] = set()


def forbid_unknown_keys(*classes: type[Any]) -> None:
    """Make reading these attrs classes fail on unknown keys (typos in hand-written input).

    Call it before the classes are first read (the schema package does so on import).
    """
    _STRICT.update(classes)


def _attrs_structure_factory(cls: type[Any]) -> Any:
    inner = make_dict_structure_fn(cls, converter, _cattrs_forbid_extra_keys=cls in _STRICT)

    def structure_attrs(value: Any, t: Any) -> Any:
        if not isinstance(value, Mapping):
            raise PayloadError(f"expected an object ({cls.__name__})")
        return inner(value, t)

    return structure_attrs


converter.register_structure_hook_factory(attrs.has, _attrs_structure_factory)


def _is_any(t: Any) -> bool:
    return t is Any


def _is_str_any_mapping(t: Any) -> bool:
    return get_origin(t) in (dict, Mapping) and get_args(t) == (str, Any)


def _is_any_tuple(t: Any) -> bool:
    return get_origin(t) is tuple and get_args(t) == (Any, ...)


def _structure_any_tuple(value: Any, _t: Any) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise PayloadError("expected a list")
    return tuple(decode_value(v) for v in value)


converter.register_unstructure_hook_func(_is_any, encode_value)
converter.register_unstructure_hook_func(
    _is_any_tuple, lambda value: [encode_value(v) for v in value]
)
converter.register_structure_hook_func(_is_any_tuple, _structure_any_tuple)
converter.register_structure_hook_func(_is_any, lambda value, _t: decode_value(value))
converter.register_unstructure_hook_func(_is_str_any_mapping, _encode_mapping)
converter.register_structure_hook_func(
    _is_str_any_mapping, lambda value, _t: _decode_mapping(value)
)


# --------------------------------------------------------------------------------------------
# message content: a union tagged with "type"
# --------------------------------------------------------------------------------------------

_CONTENT_BY_KIND: dict[str, type[Any]] = {cls.kind.value: cls for cls in CONTENT_CLASSES}
_CONTENT_SET = frozenset(CONTENT_CLASSES)


def _is_content_union(t: Any) -> bool:
    if get_origin(t) not in (Union, types.UnionType):
        return False
    members = set(get_args(t)) - {type(None)}
    return members == _CONTENT_SET


def _unstructure_content(value: Any) -> Any:
    if value is None:
        return None
    cls = type(value)
    if cls not in _CONTENT_SET:
        raise UnserializableValue(f"{cls.__name__} is not a message content class")
    data = {"type": MessageContentType(cls.kind).value}
    data.update(converter.unstructure(value, cls))
    return data


def _structure_content(value: Any, _t: Any) -> Any:
    if value is None:
        if type(None) in get_args(_t):
            return None
        raise PayloadError("expected message content")
    if not isinstance(value, Mapping):
        raise PayloadError("expected message content (an object with a 'type')")
    kind = value.get("type")
    cls = _CONTENT_BY_KIND.get(kind) if isinstance(kind, str) else None
    if cls is None:
        known = ", ".join(sorted(_CONTENT_BY_KIND))
        raise PayloadError(f"unknown content type; expected one of {known}")
    return converter.structure({k: v for k, v in value.items() if k != "type"}, cls)


converter.register_unstructure_hook_func(_is_content_union, _unstructure_content)
converter.register_structure_hook_func(_is_content_union, _structure_content)


# --------------------------------------------------------------------------------------------
# Result[T]
# --------------------------------------------------------------------------------------------


def _is_result(t: Any) -> bool:
    if t in (Ok, Err) or get_origin(t) is Ok:
        return True
    return get_origin(t) is Union and Err in get_args(t)


def _result_data_type(t: Any) -> Any:
    if t is Err:
        return type(None)
    args = get_args(t)
    if get_origin(t) is Union:
        args = next((get_args(a) for a in args if get_origin(a) is Ok), ())
    if not args or isinstance(args[0], TypeVar):
        return Any
    return args[0]


def _unstructure_result(value: Ok[Any] | Err) -> dict[str, Any]:
    data = value.data
    if data is None:
        encoded = None
    elif attrs.has(type(data)):
        encoded = converter.unstructure(data)
    else:
        encoded = encode_value(data)
    return {"data": encoded, "error": converter.unstructure(value.error)}


def _structure_result(value: Any, t: Any) -> Ok[Any] | Err:
    if not isinstance(value, Mapping):
        raise PayloadError("expected a result (an object with 'data' and 'error')")
    if "data" not in value and "error" not in value:
        raise PayloadError("expected a result (an object with 'data' and 'error')")
    if value.get("error") is not None:
        return Err(converter.structure(value["error"], ErrorInfo))
    data_type = _result_data_type(t)
    raw = value.get("data")
    data = None if raw is None or data_type is type(None) else converter.structure(raw, data_type)
    return Ok(data)


converter.register_unstructure_hook(Ok, _unstructure_result)
converter.register_unstructure_hook(Err, _unstructure_result)
converter.register_structure_hook_func(_is_result, _structure_result)


# --------------------------------------------------------------------------------------------
# the public functions
# --------------------------------------------------------------------------------------------


def _format_exception(exc: BaseException, expected: type[Any] | None) -> str:
    if getattr(exc, "readable", False):  # PayloadError, a schema's SchemaDefinitionError, ...
        return str(exc)
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, ForbiddenExtraKeysError):
        return "unknown field(s) " + ", ".join(sorted(exc.extra_fields))
    name = getattr(expected, "__name__", None) or (repr(expected) if expected else None)
    return f"invalid value (expected {name})" if name else "invalid value"


def describe_error(exc: BaseException) -> list[str]:
    """Readable ``problem @ $.path`` lines for a structuring failure (no payload values)."""
    if isinstance(exc, BaseValidationError):
        return cattrs.transform_error(exc, format_exception=_format_exception)
    return [_format_exception(exc, None)]


def _type_name(cls: Any) -> str:
    origin = get_origin(cls)
    if origin is not None:
        args = ", ".join(_type_name(a) for a in get_args(cls))
        return f"{getattr(origin, '__name__', origin)}[{args}]"
    return str(getattr(cls, "__name__", cls))


def structure_or_raise(data: Any, cls: Any) -> Any:
    """``converter.structure`` raising :class:`PayloadError` with every problem named."""
    try:
        return converter.structure(data, cls)
    except Exception as exc:
        problems = describe_error(exc)
        shown = "; ".join(problems[:8]) + ("; ..." if len(problems) > 8 else "")
        raise PayloadError(f"cannot read a {_type_name(cls)}: {shown}") from None


def unstructure(obj: Any, unstructure_as: Any = None) -> Any:
    """``obj`` as plain JSON data (see the module doc for the encoding).

    Raises :class:`~ratatosk.MessagingError` (``MESSAGE_SERIALIZATION_FAILED``) when a value in
    it has no JSON encoding.
    """
    try:
        return converter.unstructure(obj, unstructure_as=unstructure_as)
    except Exception as exc:
        detail = str(exc) if isinstance(exc, UnserializableValue) else type(exc).__name__
        raise MessagingError(
            ErrorInfo(
                MessagingErrorCodes.MESSAGE_SERIALIZATION_FAILED,
                f"Cannot serialize {type(obj).__name__}: {detail}.",
            )
        ) from None


def structure_result(data: Any, data_type: type[T]) -> Ok[T] | Err:
    """A :class:`~ratatosk.Result` whose data is a ``data_type``, from :func:`unstructure`'s data.

    The typed form of ``structure(data, Result[SendResult])``: ``structure_result(data,
    SendResult)`` is an ``Ok[SendResult] | Err`` for ``mypy --strict``.
    """
    return structure(data, Ok[data_type] | Err)  # type: ignore[valid-type,arg-type]


def structure(data: Any, cls: type[T]) -> T:
    """An object of type ``cls`` from :func:`unstructure`'s data (``Result[SendResult]`` works).

    Raises :class:`~ratatosk.MessagingError` (``MESSAGE_DESERIALIZATION_FAILED``) naming every
    problem in a payload that cannot be read.
    """
    try:
        return structure_or_raise(data, cls)  # type: ignore[no-any-return]
    except PayloadError as exc:
        raise MessagingError(
            ErrorInfo(MessagingErrorCodes.MESSAGE_DESERIALIZATION_FAILED, str(exc) + ".")
        ) from None
