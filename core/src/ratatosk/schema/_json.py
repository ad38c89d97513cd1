"""A channel schema's JSON form (format ``ratatosk.schema/1``): the converter's hooks for schemas.

Capabilities are written by name, INTEGER limits as JSON integers, a ``"format"`` key leads, and
reading rejects unknown keys (hand-written input has typos). Loaded by ``ChannelSchema.to_dict``
and ``from_dict`` (and by ``ratatosk.converter`` users through :func:`unstructure_schema`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn

from .._serialization import PayloadError, converter, forbid_unknown_keys, structure_or_raise
from ._model import (
    SCHEMA_FORMAT,
    AuthenticationConfiguration,
    AuthenticationField,
    ChannelCapability,
    ChannelEndpoint,
    ChannelParameter,
    ChannelSchema,
    MessagePropertyConstraint,
    MessagePropertySchema,
    ParameterType,
)

forbid_unknown_keys(AuthenticationField, AuthenticationConfiguration, MessagePropertyConstraint,
                    MessagePropertySchema, ChannelParameter, ChannelEndpoint)


def _structure_capabilities(value: Any, _cls: Any) -> ChannelCapability:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PayloadError("expected a list of capability names")
    try:
        return ChannelCapability.from_names(value)
    except ValueError as exc:
        raise PayloadError(str(exc)) from None


converter.register_unstructure_hook(ChannelCapability, ChannelCapability.names)
converter.register_structure_hook(ChannelCapability, _structure_capabilities)


def _whole_limits(data: dict[str, Any], data_type: ParameterType) -> dict[str, Any]:
    """An INTEGER's ``min_value``/``max_value`` written as JSON integers (``1``, not ``1.0``)."""
    if data_type == ParameterType.INTEGER:
        for key in ("min_value", "max_value"):
            value = data.get(key)
            if isinstance(value, float) and value.is_integer():
                data[key] = int(value)
    return data


_unstructure_parameter_fields = make_dict_unstructure_fn(ChannelParameter, converter)
_unstructure_property_fields = make_dict_unstructure_fn(MessagePropertySchema, converter)


def _unstructure_parameter(parameter: ChannelParameter) -> dict[str, Any]:
    return _whole_limits(_unstructure_parameter_fields(parameter), parameter.data_type)


def _unstructure_property(prop: MessagePropertySchema) -> dict[str, Any]:
    data = _unstructure_property_fields(prop)
    data["constraints"] = _whole_limits(dict(data["constraints"]), prop.data_type)
    return data


converter.register_unstructure_hook(ChannelParameter, _unstructure_parameter)
converter.register_unstructure_hook(MessagePropertySchema, _unstructure_property)

_unstructure_schema_fields = make_dict_unstructure_fn(ChannelSchema, converter)
_structure_schema_fields = make_dict_structure_fn(
    ChannelSchema, converter, _cattrs_forbid_extra_keys=True
)


def _unstructure_channel_schema(schema: ChannelSchema) -> dict[str, Any]:
    return {"format": SCHEMA_FORMAT, **_unstructure_schema_fields(schema)}


def _structure_channel_schema(value: Any, _cls: Any) -> ChannelSchema:
    if not isinstance(value, Mapping):
        raise PayloadError("expected a schema (a JSON object)")
    fmt = value.get("format", SCHEMA_FORMAT)
    if fmt != SCHEMA_FORMAT:
        raise PayloadError(f"unsupported schema format {fmt!r}; expected {SCHEMA_FORMAT!r}")
    return _structure_schema_fields({k: v for k, v in value.items() if k != "format"}, _cls)


converter.register_unstructure_hook(ChannelSchema, _unstructure_channel_schema)
converter.register_structure_hook(ChannelSchema, _structure_channel_schema)


def unstructure_schema(schema: ChannelSchema) -> dict[str, Any]:
    """A schema's JSON form (what :meth:`ChannelSchema.to_dict` returns)."""
    data: dict[str, Any] = converter.unstructure(schema, ChannelSchema)
    return data


def structure_schema(data: Any) -> ChannelSchema:
    """A schema from its JSON form; ValueError naming every problem (tooling input)."""
    schema: ChannelSchema = structure_or_raise(data, ChannelSchema)
    return schema
