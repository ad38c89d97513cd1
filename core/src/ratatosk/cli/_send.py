"""``ratatosk send`` and ``ratatosk status``: provider-neutral commands over ``ratatosk.connect``.

Settings come from ``--dsn`` (or ``RATATOSK_DSN``), ``--settings "K=V;..."``, ``--set K=V`` and the
environment: for a provider every ``PROVIDER_*`` variable becomes a parameter (``VONAGE_API_KEY``
-> ``ApiKey``, ``TWILIO_ACCOUNT_SID`` -> ``AccountSid``), as the providers' own tools read them.
Later sources win: environment < DSN < ``--settings`` < ``--set``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from .._errors import ErrorInfo, MessagingError, MessagingErrorCodes
from .._models import MediaType, Message, MessageBuilder
from .._results import BatchSendResult
from .._settings import ConnectionSettings, SettingsParseError
from ..campaign import CampaignControl, CampaignRow, reconcile_unknown, run_campaign
from ..connector import concerns_every_row
from ..ledger import DeliveryState, LedgerError, PostgresLedger, SqliteLedger
from ..ratelimit import RateLimiterUnavailable, SharedRateLimiter
from ._main import UsageError, use_rich


class CommandError(Exception):
    """A command that cannot be done: printed as ``error: ...`` (plus one line per problem in
    ``issues``), exit status 1."""

    def __init__(self, message: str, issues: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.issues = tuple(issues)


# -- shared: choosing and configuring the connector ---------------------------------------
def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--dsn", help="provider DSN, e.g. twilio://ACxxx:token@default (default: $RATATOSK_DSN)"
    )
    group.add_argument(
        "--connector",
        metavar="PROVIDER/TYPE",
        help="connector id such as twilio/sms (default: $RATATOSK_CONNECTOR, or the "
        "installed provider's first connector)",
    )
    group.add_argument("--preset", help="schema preset name")
    group.add_argument("--settings", metavar="K=V;K2=V2", help="connection settings string")
    group.add_argument(
        "--set",
        dest="set_",
        action="append",
        default=[],
        metavar="K=V",
        help="one connection setting (repeatable)",
    )


def _default_connector_id() -> str:
    from ..plugins import list_providers

    env = os.environ.get("RATATOSK_CONNECTOR")
    if env:
        return env
    providers = [p for p in list_providers() if p.connectors]
    if len(providers) == 1:
        return providers[0].connectors[0].id
    if not providers:
        raise CommandError("no provider is installed (pip install a provider, e.g. "
                           "ratatosk-messaging-twilio or ratatosk-messaging-vonage)")
    ids = ", ".join(c.id for p in providers for c in p.connectors)
    raise CommandError(f"several providers are installed; choose one with --connector ({ids})")


def build_connector(args: argparse.Namespace) -> Any:
    """The connector the connection arguments describe (not yet initialized)."""
    from .._connect import connect

    dsn = args.dsn or os.environ.get("RATATOSK_DSN")
    if dsn:
        target = _dsn_for_connector(dsn, args.connector)
    else:
        target = args.connector or _default_connector_id()
    provider = (
        target.split("://", 1)[0].split("+", 1)[0] if "://" in target else target.split("/")[0]
    )
    try:
        settings = ConnectionSettings.from_env(provider.upper() + "_")
        if dsn:
            settings = ConnectionSettings()  # the DSN carries the credentials; env must not mix in
        if args.settings:
            settings = settings.merged(ConnectionSettings.parse(args.settings))
        for item in args.set_:
            if "=" not in item:
                raise UsageError(f"--set expects K=V, got {item.split('=')[0]!r}")
            name, value = item.split("=", 1)
            settings.set_parameter(name.strip(), value)
    except SettingsParseError as exc:
        raise CommandError(str(exc)) from None
    try:
        return connect(target, settings or None, schema=args.preset)
    except MessagingError as exc:
        raise CommandError(exc.error.message, exc.error.issues) from None


def _dsn_for_connector(dsn: str, connector: str | None) -> str:
    """The DSN to connect with, made to name the connector ``--connector`` (or
    ``$RATATOSK_CONNECTOR``) asks for; a contradiction between the two is refused."""
    source = "--connector"
    if not connector:
        connector, source = os.environ.get("RATATOSK_CONNECTOR"), "$RATATOSK_CONNECTOR"
    if not connector or "://" not in dsn:
        return dsn  # connect() reports a malformed DSN without echoing it
    scheme, rest = dsn.split("://", 1)
    dsn_provider, _, dsn_type = scheme.strip().partition("+")
    provider, _, connector_type = connector.strip().partition("/")
    if provider.lower() != dsn_provider.lower():
        raise UsageError(
            f"{source} {connector} names provider {provider!r} but the DSN is for "
            f"{dsn_provider!r}; give one of them, or make them agree")
    if not connector_type or connector_type.lower() == dsn_type.lower():
        return dsn
    if dsn_type:
        raise UsageError(
            f"{source} {connector} contradicts the DSN's connector "
            f"{dsn_provider}/{dsn_type} ({dsn_provider}+{dsn_type}://...); give one of them, "
            "or make them agree")
    return f"{dsn_provider}+{connector_type}://{rest}"


def _issue_dicts(error: Any) -> list[dict[str, str]]:
    return [
        {"field": issue.field, "message": issue.message, "code": issue.code}
        for issue in getattr(error, "issues", ())
    ]


def _error_dict(error: Any) -> dict[str, Any]:
    return {
        "code": error.code,
        "domain": error.domain,
        "message": error.message,
        "provider_code": error.provider_code,
        "issues": _issue_dicts(error),
    }


def _print_error(error: Any) -> None:
    """``error: MESSAGE [CODE]`` on stderr, then one indented line per problem found."""
    lines = [f"error: {error.message} [{error.code}]"]
    lines += [f"  {issue.field}: {issue.message}" for issue in getattr(error, "issues", ())]
    print("\n".join(lines), file=sys.stderr)


# -- ratatosk send ------------------------------------------------------------------------
def configure_send(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--to", help="recipient: a phone number (E.164) or a channel address (whatsapp:+E164)")
    parser.add_argument(
        "--from", dest="from_", metavar="SENDER",
        help="sender: a phone number, a short code, an alphanumeric sender name (e.g. Acme) or a "
             "channel address, as the provider accepts; for --file, the default sender")
    parser.add_argument("--text", help="message text; for --file, the default text")
    parser.add_argument(
        "--media", action="append", default=[], metavar="URL", help="media URL (repeatable)"
    )
    parser.add_argument("--id", help="message id (default: generated)")
    parser.add_argument(
        "--property",
        action="append",
        default=[],
        metavar="K=V",
        help="message property, e.g. ValidityPeriod=300 (repeatable)",
    )
    parser.add_argument(
        "--file",
        type=Path,
        help="CSV or JSONL file of messages (columns: to, "
        "from, text, media (space-separated URLs), id)",
    )
    parser.add_argument(
        "--report",
        type=Path,
        help="JSONL report, one line per message "
        "(default with --file: <file stem>.report.jsonl in the current directory)",
    )
    parser.add_argument("--concurrency", type=int, default=16, help="sends in flight (default 16)")
    campaign = parser.add_argument_group("campaign (resumable, with --file)")
    campaign.add_argument(
        "--campaign",
        metavar="NAME",
        help="record every row in the delivery ledger under this campaign name; a rerun with the "
        "same name resumes and never sends a row the ledger shows as sent or outcome unknown",
    )
    campaign.add_argument(
        "--ledger",
        metavar="STORE",
        help="the ledger: sqlite:PATH, a path, or postgresql://... "
        f"(default: $RATATOSK_LEDGER, else sqlite:{DEFAULT_LEDGER})",
    )
    campaign.add_argument(
        "--retry-unknown",
        action="store_true",
        help="send outcome-unknown rows again, after asking the provider about each one it can "
        "be asked about (status query)",
    )
    limit = parser.add_argument_group(
        "rate limit (shared by every process sending for the same account and sender)")
    limit.add_argument(
        "--rate-limit",
        metavar="LIMIT",
        help="at most this many segments, e.g. '1/second' (a US long code) or "
        "'30 per 10 seconds', counted in Redis across every process and machine using the same "
        "store, provider account and --from sender",
    )
    limit.add_argument(
        "--rate-limit-store",
        metavar="URL",
        help="the limit's Redis store (default: $RATATOSK_RATE_LIMIT_STORE, else "
        f"{DEFAULT_RATE_LIMIT_STORE})",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="on SIGINT/SIGTERM, how long to wait for the sends in flight (default 30)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    add_connection_arguments(parser)


def _properties(items: list[str]) -> dict[str, str]:
    props: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise UsageError(f"--property expects K=V, got {item!r}")
        key, value = item.split("=", 1)
        props[key.strip()] = value
    return props


def _build(row: dict[str, Any], defaults: argparse.Namespace, props: dict[str, str]) -> Message:
    to = (row.get("to") or "").strip()
    if not to:
        raise CommandError("a recipient ('to') is required")
    builder = MessageBuilder().to_phone(to)
    sender = (row.get("from") or defaults.from_ or "").strip()
    if sender:
        builder.from_phone(sender)
    if row.get("id"):
        builder.with_id(str(row["id"]))
    text = row.get("text") if row.get("text") not in (None, "") else defaults.text
    if text:
        builder.with_text(str(text))
    media = row.get("media") or []
    if isinstance(media, str):
        media = media.split()
    for url in [*media, *defaults.media]:
        builder.with_media(url, MediaType.IMAGE)
    for key, value in props.items():
        builder.with_property(key, value)
    return builder.build()


def _check_utf8(path: Path) -> None:
    """Refuse a file that is not UTF-8 text, naming the first line that is not."""
    try:
        with path.open("rb") as raw:
            for number, line in enumerate(raw, start=1):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise CommandError(
                        f"{path}, line {number}: not UTF-8 text (byte 0x{line[exc.start]:02x} "
                        f"at column {exc.start + 1}); save the file as UTF-8") from None
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None


COLUMN_ALIASES = {
    "body": "text", "message": "text", "msg": "text",
    "phone": "to", "recipient": "to", "number": "to", "mobile": "to",
    "sender": "from", "from_": "from",
    "media_url": "media", "mediaurl": "media", "media_urls": "media",
    "message_id": "id", "messageid": "id",
}
"""Other common names for the input columns (Twilio's own ``Body``, ``MediaUrl``...)."""


def _column(name: str) -> str:
    key = (name or "").strip().lstrip("\ufeff").strip().lower()
    return COLUMN_ALIASES.get(key, key)


def _normalized(row: dict[str, Any]) -> dict[str, Any]:
    """A row with its column names in canonical form; a canonical name wins over its alias."""
    out: dict[str, Any] = {}
    for name, value in row.items():
        key = _column(str(name))
        if key in out and str(name).strip().lower() != key:
            continue  # an alias never overrides the canonical column
        out[key] = value
    return out


def _read_rows(path: Path) -> Iterator[dict[str, Any]]:
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        if path.suffix.lower() in {".jsonl", ".ndjson"}:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError:
                    yield {"__error__": f"line {number} is not valid JSON"}
                    continue
                yield (
                    _normalized(row)
                    if isinstance(row, dict)
                    else {"__error__": f"line {number} is not an object"}
                )
        else:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or "to" not in [_column(f) for f in reader.fieldnames]:
                raise CommandError(
                    f"{path} needs a header row with a 'to' column (or one of "
                    + ", ".join(sorted(k for k, v in COLUMN_ALIASES.items() if v == "to"))
                    + ")")
            for row in reader:
                yield _normalized({(k or ""): (v or "") for k, v in row.items()})


DEFAULT_LEDGER = "ratatosk-ledger.sqlite"


def run_send(args: argparse.Namespace) -> int:
    if args.file is None and not args.to:
        raise UsageError("give --to (one message) or --file (many)")
    if args.file is not None and args.to:
        raise UsageError("give --to (one message) or --file (many), not both")
    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if args.file is None and (args.campaign or args.ledger or args.retry_unknown):
        raise UsageError("--campaign, --ledger and --retry-unknown go with --file")
    if (args.ledger or args.retry_unknown) and not args.campaign:
        raise UsageError("--ledger and --retry-unknown need --campaign NAME")
    if args.grace < 0:
        raise UsageError("--grace must be 0 or more seconds")
    props = _properties(args.property)
    if args.file is not None:
        _check_report_path(args.file, _report_path(args))
    if args.rate_limit_store and not args.rate_limit:
        raise UsageError("--rate-limit-store goes with --rate-limit LIMIT")
    connector = build_connector(args)
    if args.rate_limit:
        connector.rate_limiter = shared_limiter(connector, args)
    if args.file is None:
        return _send_one(connector, _build({"to": args.to, "id": args.id}, args, props), args)
    ledger = open_ledger(args.ledger) if args.campaign else None
    try:
        return asyncio.run(_send_file(connector, args, props, ledger))
    finally:
        if ledger is not None:
            ledger.close()


DEFAULT_RATE_LIMIT_STORE = "redis://127.0.0.1:6379/0"


def shared_limiter(connector: Any, args: argparse.Namespace) -> Any:
    """The ``SharedRateLimiter`` ``--rate-limit`` asks for: keyed by the connector's account
    (``rate_limit_account``) and the ``--from`` sender (``default`` without one)."""
    store = (args.rate_limit_store or os.environ.get("RATATOSK_RATE_LIMIT_STORE")
             or DEFAULT_RATE_LIMIT_STORE)
    try:
        return SharedRateLimiter(store, account=connector.rate_limit_account,
                                 sender=args.from_ or "default", limit=args.rate_limit)
    except RateLimiterUnavailable as exc:
        raise CommandError(str(exc)) from None
    except ValueError as exc:
        raise UsageError(f"--rate-limit {args.rate_limit!r}: {exc}") from None


def _report_path(args: argparse.Namespace) -> Path:
    return Path(args.report or f"{Path(args.file).stem}.report.jsonl")


def _check_report_path(source: Path, report: Path) -> None:
    """Refuse a report that would overwrite the input (before anything is opened to write)."""
    try:
        same = report.exists() and source.exists() and os.path.samefile(source, report)
    except OSError:
        same = False
    if same or report.resolve() == source.resolve():
        raise CommandError(
            f"the report {report} is the input file; give another --report path")


def open_ledger(spec: str | None) -> Any:
    """The ledger a ``--ledger`` value names: ``sqlite:PATH`` or a path (SQLite), or a
    ``postgresql://`` / ``postgres://`` URL (PostgreSQL; ``?ledger_schema=NAME`` picks the tables'
    schema, default ``ratatosk``). Default: ``$RATATOSK_LEDGER``, else a SQLite file
    ``ratatosk-ledger.sqlite`` in the current directory."""
    spec = spec or os.environ.get("RATATOSK_LEDGER") or f"sqlite:{DEFAULT_LEDGER}"
    try:
        if spec.startswith(("postgresql://", "postgres://")):
            conninfo, schema = spec, "ratatosk"
            if "ledger_schema=" in spec:
                base, _, query = spec.partition("?")
                params = [p for p in query.split("&") if p]
                kept = [p for p in params if not p.startswith("ledger_schema=")]
                schema = next(p for p in params if p.startswith("ledger_schema="))[14:]
                conninfo = base + ("?" + "&".join(kept) if kept else "")
            try:
                return PostgresLedger(conninfo, schema=schema)
            except ValueError as exc:
                raise CommandError(f"--ledger: {exc}") from None
        path = spec[len("sqlite:"):] if spec.startswith("sqlite:") else spec
        if not path:
            raise UsageError("--ledger sqlite:PATH needs a path")
        return SqliteLedger(path)
    except LedgerError as exc:
        raise CommandError(_scrub_dsn(str(exc), spec)) from None


def _scrub_dsn(text: str, spec: str) -> str:
    """``text`` without the password of a ledger URL, should a driver echo it."""
    if "://" in spec and "@" in spec:
        userinfo = spec.split("://", 1)[1].split("@", 1)[0]
        if ":" in userinfo:
            text = text.replace(userinfo.split(":", 1)[1], "***")
    return text


def _send_one(connector: Any, message: Message, args: argparse.Namespace) -> int:
    blocking = connector.blocking()
    try:
        result = blocking.send_message(message)
    finally:
        blocking.shutdown()
    if args.json:
        payload: dict[str, Any] = {"id": message.id, "ok": result.is_success}
        if result.is_success:
            payload.update(
                remote_message_id=result.data.remote_message_id,
                status=result.data.status.value,
                provider_status=result.data.provider_status,
            )
        else:
            payload["error"] = _error_dict(result.error)
        print(json.dumps(payload))
    elif result.is_success:
        print(f"sent {message.id}: {result.data.remote_message_id} ({result.data.provider_status})")
    else:
        _print_error(result.error)
    return 0 if result.is_success else 1


class _Progress:
    """A rich progress bar when rich is installed and stderr is a terminal (without NO_COLOR);
    else plain lines."""

    def __init__(self, enabled: bool) -> None:
        self._bar: Any = None
        self._task: Any = None
        self._plain = enabled
        self._count = 0
        self._last = 0.0
        self._total = ""
        try:
            self._tty = sys.stderr.isatty()
        except (AttributeError, ValueError):
            self._tty = False
        if not enabled or not use_rich(sys.stderr):
            return  # plain progress lines (piped stderr, NO_COLOR)
        try:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )
        except ImportError:
            return
        self._bar = Progress(
            TextColumn("sending"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            transient=False,
            console=Console(stderr=True),
        )
        self._plain = False

    def start(self, total: int | None) -> None:
        self._total = f"/{total}" if total is not None else ""
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task("send", total=total, failed=0)

    def advance(self, failed: int) -> None:
        self._count += 1
        if self._bar is not None:
            self._bar.update(self._task, advance=1, failed=failed)
        elif self._plain and time.monotonic() - self._last > (0.5 if self._tty else 5.0):
            self._last = time.monotonic()
            if self._tty:  # one line, rewritten in place
                print(f"\rsent {self._count}{self._total} ({failed} failed)", end="",
                      file=sys.stderr, flush=True)
            else:  # a log or a pipe: whole lines, no carriage returns
                print(f"sent {self._count}{self._total} ({failed} failed)", file=sys.stderr,
                      flush=True)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
        elif self._plain:
            print(f"{chr(13) if self._tty else ''}sent {self._count}{self._total}",
                  file=sys.stderr)


class _Stopper:
    """SIGINT/SIGTERM during a file send: the first stops taking rows and waits ``grace``
    seconds for the sends in flight, a second one (or the end of the wait) aborts them."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.signal: int | None = None
        self.stopped = False
        self.aborted = False
        self.abort_event = asyncio.Event()
        self.on_stop: list[Any] = []
        self.on_abort: list[Any] = []
        self._timer: asyncio.TimerHandle | None = None
        self._installed: list[int] = []

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._signalled, sig)
            except (NotImplementedError, RuntimeError):  # pragma: no cover - not on Windows
                continue
            self._installed.append(sig)

    def remove(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in self._installed:
            loop.remove_signal_handler(sig)
        if self._timer is not None:
            self._timer.cancel()

    def _signalled(self, sig: int) -> None:
        if self.signal is None:
            self.signal = sig
        if self.stopped:
            print("aborting: the sends in flight are recorded as outcome unknown",
                  file=sys.stderr, flush=True)
            self.abort()
            return
        self.stopped = True
        print(f"\nstopping: no new rows; waiting up to {self.grace:g}s for the sends in flight "
              "(signal again to abort)", file=sys.stderr, flush=True)
        for callback in self.on_stop:
            callback()
        self._timer = asyncio.get_running_loop().call_later(self.grace, self.abort)

    def abort(self) -> None:
        if self.aborted:
            return
        self.stopped = self.aborted = True
        self.abort_event.set()
        for callback in self.on_abort:
            callback()

    def exit_status(self, status: int) -> int:
        return status if self.signal is None else 128 + int(self.signal)


def _row_line(index: int, message: Message | None, row: dict[str, Any] | None = None,
              ) -> dict[str, Any]:
    """The start of a report line: the row's position (the key: ids may repeat), id, recipient."""
    if message is not None:
        to: Any = message.receiver.address if message.receiver is not None else ""
        mid = message.id
    else:
        to, mid = (row or {}).get("to"), str((row or {}).get("id") or "")
    return {"index": index, "row": index + 1, "id": mid, "to": to}


def _result_line(line: dict[str, Any], result: Any) -> dict[str, Any]:
    line["ok"] = result.is_success
    if result.is_success:
        data = result.data
        line.update(
            outcome_unknown=False,
            remote_message_id=data.remote_message_id,
            status=data.status.value,
            provider_status=data.provider_status,
        )
    else:
        line["outcome_unknown"] = bool(result.error.outcome_unknown)
        line["error"] = _error_dict(result.error)
    return line


def _interrupted_line(line: dict[str, Any], outcome_unknown: bool) -> dict[str, Any]:
    line.update(ok=False, outcome_unknown=outcome_unknown, interrupted=True)
    line["error"] = {
        "code": "INTERRUPTED",
        "domain": "cli",
        "message": "interrupted while in flight: the provider may have received it"
        if outcome_unknown else "interrupted before the request left: not sent",
        "provider_code": None,
        "issues": [],
    }
    return line


async def _send_file(
    connector: Any, args: argparse.Namespace, props: dict[str, str], ledger: Any = None
) -> int:
    path: Path = args.file
    report_path = _report_path(args)
    total = _count_rows(path)
    counts: Counter[str] = Counter()
    progress = _Progress(not args.no_progress)
    started = time.monotonic()
    stopper = _Stopper(args.grace)

    def count_of(line: dict[str, Any]) -> str:
        if line.get("skipped"):
            return f"already {line.get('state')}"
        if line["ok"]:
            return "sent"
        if line.get("outcome_unknown"):
            return "outcome_unknown"
        return str(line["error"]["code"])

    def write(report: IO[str], line: dict[str, Any]) -> None:
        report.write(json.dumps(line) + "\n")
        report.flush()  # a line written is a line kept, whatever stops the process
        counts[count_of(line)] += 1
        progress.advance(sum(v for k, v in counts.items() if k not in ("sent", "already sent")))

    def rows(report: IO[str]) -> Iterator[tuple[int, Message]]:
        for index, row in enumerate(_read_rows(path)):
            if stopper.stopped:
                return
            try:
                if "__error__" in row:
                    raise CommandError(row["__error__"])
                message = _build(row, args, props)
            except (CommandError, ValueError, TypeError) as exc:
                line = _row_line(index, None, row)
                line.update(ok=False, outcome_unknown=False, error={
                    "code": MessagingErrorCodes.INVALID_MESSAGE,
                    "domain": "messaging",
                    "message": str(exc),
                    "provider_code": None,
                    "issues": [],
                })
                write(report, line)
                continue
            yield index, message

    progress.start(total)
    stopper.install()
    try:
        with report_path.open("w", encoding="utf-8") as report:
            if ledger is None:
                await _send_plain(connector, args, rows(report), stopper,
                                  lambda line: write(report, line))
            else:
                await _send_campaign(connector, args, rows(report), stopper, ledger,
                                     lambda line: write(report, line))
    finally:
        stopper.remove()
        progress.stop()
        await connector.shutdown()
    elapsed = time.monotonic() - started
    _summary(counts, elapsed, report_path, [])
    if ledger is not None:
        print(f"campaign: {args.campaign} (ratatosk campaign status {args.campaign})")
    ok = set(counts) <= {"sent", "already sent"}
    return stopper.exit_status(0 if ok else 1)


async def _next_or_abort(batch: Any, stopper: _Stopper) -> Any:
    """The batch's next item, or None once the batch ended or the send was aborted."""
    getter = asyncio.ensure_future(batch.__anext__())
    waiter = asyncio.ensure_future(stopper.abort_event.wait())
    try:
        await asyncio.wait({getter, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if not getter.done():
        getter.cancel()
        await asyncio.gather(getter, return_exceptions=True)
        return None
    try:
        return getter.result()
    except StopAsyncIteration:
        return None


async def _send_plain(
    connector: Any, args: argparse.Namespace, rows: Iterator[tuple[int, Message]],
    stopper: _Stopper, write: Any,
) -> None:
    """``send_batch`` over the rows; results are paired by their position, never by id."""
    pending: dict[int, tuple[int, Message]] = {}  # batch position -> (row index, message)
    stopped_by: list[ErrorInfo] = []

    async def messages() -> AsyncIterator[Message]:
        for position, (index, message) in enumerate(rows):
            pending[position] = (index, message)
            yield message

    def report(item: BatchSendResult) -> None:
        index, message = pending.pop(item.index)
        error = item.result.error
        if error is not None and error.details.get("cut_short"):
            write(_interrupted_line(_row_line(index, message), outcome_unknown=True))
            return
        if error is not None and concerns_every_row(error) and not stopped_by:
            stopped_by.append(error)
        write(_result_line(_row_line(index, message), item.result))

    # closed early (a second signal, or the grace ran out): the sends in flight still reach
    # the report, through after_close
    batch = connector.send_batch(messages(), concurrency=args.concurrency, after_close=report)
    try:
        while (item := await _next_or_abort(batch, stopper)) is not None:
            report(item)
    finally:
        await batch.aclose()
        for index, message in sorted(pending.values(), key=lambda pair: pair[0]):
            write(_interrupted_line(_row_line(index, message), outcome_unknown=True))
    if stopped_by:
        cause = stopped_by[0]
        print(f"stopped: {cause.message} [{cause.code}] concerns every row; the rows not yet "
              "sent were not attempted (NOT_ATTEMPTED): fix it and send those again",
              file=sys.stderr)


async def _send_campaign(
    connector: Any, args: argparse.Namespace, rows: Iterator[tuple[int, Message]],
    stopper: _Stopper, ledger: Any, write: Any,
) -> None:
    """:func:`ratatosk.campaign.run_campaign` over the rows (row number = ledger row key)."""
    if args.retry_unknown:
        again = await reconcile_unknown(connector, ledger, args.campaign)
        print(f"--retry-unknown: {len(again)} outcome-unknown message(s) will be sent again",
              file=sys.stderr)
    control = CampaignControl()
    stopper.on_stop.append(control.stop)
    stopper.on_abort.append(control.abort)
    messages: dict[str, tuple[int, Message]] = {}

    def campaign_rows() -> Iterator[CampaignRow]:
        for index, message in rows:
            messages[str(index + 1)] = (index, message)
            yield CampaignRow(message, row_key=str(index + 1))

    try:
        await _campaign_lines(connector, args, campaign_rows(), ledger, control, messages, write)
        if control.reason is not None:
            print(f"stopped: {control.reason.message} [{control.reason.code}] concerns every "
                  f"row; fix it and rerun with --campaign {args.campaign} to send the rest",
                  file=sys.stderr)
    except LedgerError as exc:
        raise CommandError(
            f"the ledger failed: {exc}; the rows reported so far are recorded, rerun with "
            f"--campaign {args.campaign} to resume") from None


async def _campaign_lines(
    connector: Any, args: argparse.Namespace, rows: Iterator[CampaignRow], ledger: Any,
    control: CampaignControl, messages: dict[str, tuple[int, Message]], write: Any,
) -> None:
    async for done in run_campaign(connector, rows, ledger=ledger,
                                   name=args.campaign, concurrency=args.concurrency,
                                   control=control):
        index, message = messages.pop(done.row.key)
        line = _row_line(index, message)
        delivery = done.delivery
        line["state"] = delivery.state.value
        if done.interrupted:
            write(_interrupted_line(
                line, outcome_unknown=delivery.state is DeliveryState.OUTCOME_UNKNOWN))
        elif delivery.result is not None:
            write(_result_line(line, delivery.result))
        else:
            entry = delivery.entry
            line.update(
                ok=delivery.state is DeliveryState.SENT,
                outcome_unknown=delivery.state is DeliveryState.OUTCOME_UNKNOWN,
                skipped=True,
                remote_message_id=entry.provider_message_id if entry is not None else None,
            )
            if delivery.state is DeliveryState.PENDING:
                line["error"] = {"code": "IN_PROGRESS", "domain": "cli", "provider_code": None,
                                 "message": "another worker holds this message", "issues": []}
            write(line)


def _count_rows(path: Path) -> int:
    """How many rows (messages) the file holds: JSONL lines that are not blank, CSV records
    after the header (a quoted field may span several physical lines)."""
    _check_utf8(path)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        if path.suffix.lower() in {".jsonl", ".ndjson"}:
            return sum(1 for line in handle if line.strip())
        records = sum(1 for record in csv.reader(handle) if record)  # as csv.DictReader skips
    return max(records - 1, 0)


def _summary(counts: Counter[str], elapsed: float, report: Path, _lines: list[str]) -> None:
    total = sum(counts.values())
    rows = [
        ("sent", counts.get("sent", 0)),
        *sorted(((k, v) for k, v in counts.items() if k != "sent"), key=lambda kv: -kv[1]),
    ]
    rate = total / elapsed if elapsed > 0 else 0.0
    try:
        if not use_rich(sys.stdout):
            raise ImportError("plain output: piped, or NO_COLOR")
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(f"\n{'outcome':<28} {'messages':>8}")
        for name, value in rows:
            print(f"{name:<28} {value:>8}")
        print(f"{'total':<28} {total:>8}   in {elapsed:.1f}s ({rate:.0f} msg/s)")
    else:
        table = Table(title=f"{total} messages in {elapsed:.1f}s ({rate:.0f} msg/s)")
        table.add_column("outcome")
        table.add_column("messages", justify="right")
        for name, value in rows:
            table.add_row(name, str(value), style=None if name == "sent" else "red")
        Console().print(table)
    print(f"report: {report}")


# -- ratatosk status ----------------------------------------------------------------------
def configure_status(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("message_id", metavar="MESSAGE_ID",
                        help="the provider's message id (as `ratatosk send` printed it)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    add_connection_arguments(parser)


def run_status(args: argparse.Namespace) -> int:
    blocking = build_connector(args).blocking()
    try:
        result = blocking.get_message_status(args.message_id)
    finally:
        blocking.shutdown()
    if not result.is_success:
        _print_error(result.error)
        return 1
    from .._serialization import unstructure

    update = result.data
    if args.json:
        print(json.dumps(unstructure(update), indent=2, default=str))
        return 0
    print(f"{update.remote_message_id}: {update.status.name} ({update.provider_status})")
    for label, value in (
        ("segments", update.segments),
        ("price", update.price),
        ("price unit", update.price_unit),
        ("created", update.date_created),
        ("sent", update.date_sent),
        ("updated", update.date_updated),
    ):
        if value is not None:
            print(f"  {label}: {value}")
    if update.error is not None:
        print(f"  error: {update.error.message} [{update.error.code}]")
    return 0


# -- ratatosk campaign status -------------------------------------------------------------
def configure_campaign_status(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the campaign's name (as given to send --campaign)")
    parser.add_argument(
        "--ledger",
        metavar="STORE",
        help="sqlite:PATH, a path, or postgresql://... "
        f"(default: $RATATOSK_LEDGER, else sqlite:{DEFAULT_LEDGER})",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")


def run_campaign_status(args: argparse.Namespace) -> int:
    spec = args.ledger or os.environ.get("RATATOSK_LEDGER") or f"sqlite:{DEFAULT_LEDGER}"
    if not spec.startswith(("postgresql://", "postgres://")):
        path = spec[len("sqlite:"):] if spec.startswith("sqlite:") else spec
        if not Path(path).exists():
            raise CommandError(f"no ledger at {path} (give --ledger)")
    ledger = open_ledger(spec)
    try:
        summary = ledger.summary(args.name)
    finally:
        ledger.close()
    if summary.total == 0:
        raise CommandError(f"the ledger has no campaign {args.name!r}")
    counts = {state.value: summary.count(state) for state in DeliveryState}
    if args.json:
        print(json.dumps({
            "campaign": summary.campaign,
            "total": summary.total,
            "counts": counts,
            "segments": summary.segments,
            "cost": {currency: str(amount) for currency, amount in summary.cost.items()},
        }, indent=2))
        return 0
    print(f"campaign {summary.campaign}: {summary.total} messages")
    for state, value in counts.items():
        print(f"  {state:<16} {value:>8}")
    print(f"  {'segments':<16} {summary.segments:>8}")
    for currency, amount in sorted(summary.cost.items()):
        print(f"  cost {currency or '(no currency)'}: {amount}")
    return 0
