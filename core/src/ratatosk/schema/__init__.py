"""Channel schemas: what a connector supports and accepts, validation, derivation, JSON.

``_model`` holds the data classes and validation; ``_json`` their JSON form (the
``ratatosk.schema/1`` format, through the cattrs converter), loaded by ``ChannelSchema.to_dict``
and ``from_dict`` on first use so that start-up does not pay for cattrs.
"""

from ._model import (
    COMMON_PARAMETERS,
    SCHEMA_FORMAT,
    SCHEMA_JSON_SCHEMA_FILE,
    AuthenticationConfiguration,
    AuthenticationField,
    AuthenticationFieldRole,
    AuthenticationScheme,
    ChannelCapability,
    ChannelEndpoint,
    ChannelParameter,
    ChannelSchema,
    MessagePropertyConstraint,
    MessagePropertySchema,
    ParameterType,
    SchemaDefinitionError,
    convert_value,
)

__all__ = [
    "COMMON_PARAMETERS",
    "SCHEMA_FORMAT",
    "SCHEMA_JSON_SCHEMA_FILE",
    "AuthenticationConfiguration",
    "AuthenticationField",
    "AuthenticationFieldRole",
    "AuthenticationScheme",
    "ChannelCapability",
    "ChannelEndpoint",
    "ChannelParameter",
    "ChannelSchema",
    "MessagePropertyConstraint",
    "MessagePropertySchema",
    "ParameterType",
    "SchemaDefinitionError",
    "convert_value",
]
