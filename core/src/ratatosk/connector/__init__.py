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
from ._batch import EVERY_ROW_CODES, MAX_AGAIN, BatchJob, BatchPacer, concerns_every_row
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
    "EVERY_ROW_CODES",
    "MAX_AGAIN",
    "OPERATION_CAPABILITIES",
    "BatchJob",
    "BatchPacer",
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
    "concerns_every_row",
    "drive_async",
    "drive_blocking",
    "immediately",
    "operation",
    "operations_of",
    "run_on",
]
