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
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from .._errors import MessagingError, MessagingErrorCodes
from .._models import MediaType, Message, MessageBuilder
from .._settings import ConnectionSettings, SettingsParseError
from ._main import UsageError


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
                    row
                    if isinstance(row, dict)
                    else {"__error__": f"line {number} is not an object"}
                )
        else:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or "to" not in [f.strip().lower() for f in reader.fieldnames]:
                raise CommandError(f"{path} needs a header row with a 'to' column")
            for row in reader:
                yield {(k or "").strip().lower(): (v or "") for k, v in row.items()}


def run_send(args: argparse.Namespace) -> int:
    if args.file is None and not args.to:
        raise UsageError("give --to (one message) or --file (many)")
    if args.file is not None and args.to:
        raise UsageError("give --to (one message) or --file (many), not both")
    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    props = _properties(args.property)
    connector = build_connector(args)
    if args.file is None:
        return _send_one(connector, _build({"to": args.to, "id": args.id}, args, props), args)
    return asyncio.run(_send_file(connector, args, props))


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
    """A rich progress bar when rich is installed and stderr is a terminal or forced; else plain."""

    def __init__(self, enabled: bool) -> None:
        self._bar: Any = None
        self._task: Any = None
        self._plain = enabled
        self._count = 0
        self._last = 0.0
        if not enabled:
            return
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
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task("send", total=total, failed=0)

    def advance(self, failed: int) -> None:
        self._count += 1
        if self._bar is not None:
            self._bar.update(self._task, advance=1, failed=failed)
        elif self._plain and time.monotonic() - self._last > 0.5:
            self._last = time.monotonic()
            print(f"\rsent {self._count} ({failed} failed)", end="", file=sys.stderr, flush=True)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
        elif self._plain:
            print(f"\rsent {self._count}", file=sys.stderr)


async def _send_file(connector: Any, args: argparse.Namespace, props: dict[str, str]) -> int:
    path: Path = args.file
    report_path: Path = args.report or Path(f"{path.stem}.report.jsonl")
    total = _count_rows(path)
    in_flight: dict[str, tuple[int, str]] = {}
    report_lines: list[str] = []  # errors found before sending, written in order with the rest
    counts: Counter[str] = Counter()
    progress = _Progress(not args.no_progress)
    started = time.monotonic()
    index_counter = 0

    def write(report: IO[str], line: dict[str, Any]) -> None:
        report.write(json.dumps(line) + "\n")
        counts["sent" if line["ok"] else line["error"]["code"]] += 1
        progress.advance(sum(v for k, v in counts.items() if k != "sent"))

    async def messages(report: IO[str]) -> AsyncIterator[Message]:
        nonlocal index_counter
        for row in _read_rows(path):
            index = index_counter
            index_counter += 1
            try:
                if "__error__" in row:
                    raise CommandError(row["__error__"])
                message = _build(row, args, props)
            except (CommandError, ValueError, TypeError) as exc:
                write(
                    report,
                    {
                        "index": index,
                        "id": str(row.get("id") or ""),
                        "to": row.get("to"),
                        "ok": False,
                        "error": {
                            "code": MessagingErrorCodes.INVALID_MESSAGE,
                            "domain": "messaging",
                            "message": str(exc),
                            "provider_code": None,
                            "issues": [],
                        },
                    },
                )
                continue
            in_flight[message.id] = (index, message.receiver.address if message.receiver else "")
            yield message

    progress.start(total)
    try:
        with report_path.open("w", encoding="utf-8") as report:
            async for item in connector.send_batch(messages(report), concurrency=args.concurrency):
                index, to = in_flight.pop(item.message_id, (item.index, ""))
                line: dict[str, Any] = {
                    "index": index,
                    "id": item.message_id,
                    "to": to,
                    "ok": item.result.is_success,
                }
                if item.result.is_success:
                    data = item.result.data
                    line.update(
                        remote_message_id=data.remote_message_id,
                        status=data.status.value,
                        provider_status=data.provider_status,
                    )
                else:
                    line["error"] = _error_dict(item.result.error)
                write(report, line)
    finally:
        progress.stop()
        await connector.shutdown()
    elapsed = time.monotonic() - started
    _summary(counts, elapsed, report_path, report_lines)
    return 0 if set(counts) <= {"sent"} else 1


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
