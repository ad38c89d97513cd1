"""The connector machinery: the base class, operations and their two drivers, the blocking view."""

from ._base import (
    CAPABILITY_METHODS,
    COMMON_DEFAULTS,
    OPERATION_CAPABILITIES,
    Connector,
    ConnectorState,
    SettingsLike,
    immediately,
)
from ._blocking import BlockingConnector
from ._operation import (
    CloseTransports,
    Effect,
    Operation,
    Sleep,
    Via,
    drive_async,
    drive_blocking,
    operation,
    operations_of,
    run_on,
)
from ._runtime import Runtime

__all__ = [
    "CAPABILITY_METHODS",
    "COMMON_DEFAULTS",
    "OPERATION_CAPABILITIES",
    "BlockingConnector",
    "CloseTransports",
    "Connector",
    "ConnectorState",
    "Effect",
    "Operation",
    "Runtime",
    "SettingsLike",
    "Sleep",
    "Via",
    "drive_async",
    "drive_blocking",
    "immediately",
    "operation",
    "operations_of",
    "run_on",
]
