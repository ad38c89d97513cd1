"""A campaign: many ledger-backed sends, resumable, stoppable, never sending a message twice."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, Generator, Iterable
from typing import TYPE_CHECKING, Any

from attrs import define, field, frozen

from .._errors import ErrorInfo
from .._models import Message
from ..connector._batch import BatchJob, BatchPacer, BatchSource, run_paced
from ..connector._operation import Effect
from ..ledger import DeliveryState, Ledger, LedgerEntry, idempotency_key
from ..schema import ChannelCapability
from ._deliver import Delivery, default_worker, delivery

if TYPE_CHECKING:
    import asyncio

    from ..connector._base import Connector


@frozen(slots=True)
class CampaignRow:
    """One message of a campaign and its key in the ledger (stable across reruns).

    ``row_key`` defaults to the message id; give the row number of an input file when ids may
    repeat.
    """

    message: Message
    row_key: str | None = None

    @property
    def key(self) -> str:
        return self.message.id if self.row_key is None else self.row_key


@frozen(slots=True)
class CampaignResult:
    """One row's outcome in :func:`run_campaign`, in completion order.

    ``skipped`` is true when the ledger already held a final outcome from an earlier run (nothing
    was sent now); ``delivery.state`` tells which. ``interrupted`` is true for a send cut short
    by :meth:`CampaignControl.abort` (its state is then ``outcome_unknown`` if the request left).
    """

    index: int
    row: CampaignRow
    delivery: Delivery
    skipped: bool = False
    interrupted: bool = False


@define
class CampaignControl:
    """Stops a running campaign: :meth:`stop` takes no new rows and lets the sends in flight
    finish; :meth:`abort` also cancels the sends in flight (each is recorded as outcome unknown
    when its request may have left, else released)."""

    stopped: bool = False
    aborted: bool = False
    reason: ErrorInfo | None = None
    """Set when the campaign stopped by itself on an error that concerns every row."""
    _event: asyncio.Event | None = field(default=None, init=False)

    def stop(self) -> None:
        self.stopped = True

    def abort(self) -> None:
        self.stopped = self.aborted = True
        if self._event is not None:
            self._event.set()


async def run_campaign(
    connector: Connector,
    rows: Iterable[CampaignRow | Message] | AsyncIterable[CampaignRow | Message],
    *,
    ledger: Ledger,
    name: str,
    concurrency: int = 16,
    control: CampaignControl | None = None,
    worker: str | None = None,
) -> AsyncGenerator[CampaignResult, None]:
    """Send every row of campaign ``name`` through ``connector``, recording each in ``ledger``.

    Rows already recorded as sent, outcome unknown or suppressed are not sent again (a rerun
    resumes; see :func:`reconcile_unknown` for ``--retry-unknown``); failed ones are retried.
    Yields one :class:`CampaignResult` per row taken, in completion order, with ``index`` its
    position in ``rows``. ``control`` stops the campaign from elsewhere (a signal handler). At
    the first error that concerns every row (:func:`concerns_every_row`: bad credentials, a
    suspended account, an unreachable provider) it stops taking rows and sets
    ``control.reason``; the rows not taken are not recorded, so a rerun sends them. Sends are
    paced as ``send_batch``'s (:class:`~ratatosk.connector.BatchPacer`): a slow start, fewer in
    flight while the provider throttles, and a row that ended ``RATE_LIMITED`` sent again.
    """
    import asyncio  # the async engine only

    control = control or CampaignControl()
    control._event = asyncio.Event()
    if control.aborted:
        control._event.set()
    owner = worker or default_worker()

    def as_row(item: CampaignRow | Message) -> CampaignRow:
        return item if isinstance(item, CampaignRow) else CampaignRow(item)

    def one(conn: Connector, index: int, item: CampaignRow | Message,
            ) -> Generator[Effect, Any, CampaignResult]:
        row = as_row(item)
        done = yield from delivery(conn, row.message, ledger=ledger, campaign=name,
                                   row_key=row.key, worker=owner)
        return CampaignResult(index, row, done, skipped=not done.sent_now)

    def interrupted(job: BatchJob) -> CampaignResult:
        """A send the abort cut short: its delivery recorded itself as it closed."""
        row = as_row(job.item)
        key = idempotency_key(name, row.key)
        entry = ledger.get(key)
        state = entry.state if entry is not None else DeliveryState.PENDING
        return CampaignResult(job.index, row, Delivery(key, row.key, state, entry),
                              interrupted=True)

    # send_batch's pacing and engine: a slow start, half as many in flight when throttled, a
    # row that ended RATE_LIMITED sent again (its ledger entry is "failed": sendable), stop at
    # once; a row read after the stop is dropped (not recorded, so a rerun sends it)
    pacer: BatchPacer[CampaignResult] = BatchPacer(
        connector, max(1, concurrency), start=one, result_of=lambda r: r.delivery.result,
        refuse=None, cut=interrupted)
    source = BatchSource(rows, max(1, concurrency),
                         stop=lambda: control.stopped or pacer.stopped_by is not None)
    cut: list[CampaignResult] = []
    engine = run_paced(connector, source, pacer, after_close=cut.append)
    aborter = asyncio.ensure_future(control._event.wait())
    try:
        while True:
            getter = asyncio.ensure_future(anext(engine))
            await asyncio.wait({getter, aborter}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():  # aborted: the engine cancels the sends in flight at once
                getter.cancel()
                await asyncio.gather(getter, return_exceptions=True)
                break
            try:
                result = getter.result()
            except StopAsyncIteration:
                break
            yield result
        for result in cut:  # what the abort cut short, and rows waiting to go again
            yield result
    finally:
        if pacer.stopped_by is not None and control.reason is None:
            control.reason = pacer.stopped_by
            control.stopped = True
        aborter.cancel()
        await engine.aclose()


async def reconcile_unknown(
    connector: Connector, ledger: Ledger, name: str
) -> list[LedgerEntry]:
    """Make the campaign's outcome-unknown messages sendable again, asking the provider first.

    Where the connector declares ``MESSAGE_STATUS_QUERY`` and the ledger knows the provider's id,
    the status is queried: a message the provider knows becomes ``sent``; one it does not know
    becomes ``failed`` (so the next run sends it). Without a provider id (no answer ever came
    back) the provider cannot be asked: those become ``failed`` too, as ``--retry-unknown``
    asks. Returns the entries made sendable again.
    """
    can_query = connector.supports(ChannelCapability.MESSAGE_STATUS_QUERY)
    resend: list[LedgerEntry] = []
    for entry in ledger.entries(name):
        if entry.state is not DeliveryState.OUTCOME_UNKNOWN:
            continue
        if can_query and entry.provider_message_id:
            status = await connector.get_message_status(entry.provider_message_id)
            if status.is_success:
                ledger.record_outcome(entry.idempotency_key, DeliveryState.SENT)
                continue
            error = status.error
            if error is None or error.retryable or error.outcome_unknown:
                continue  # the provider could not be asked now: keep it unknown
        ledger.record_outcome(entry.idempotency_key, DeliveryState.FAILED,
                              error_code="RETRY_UNKNOWN")
        resend.append(entry)
    return resend
