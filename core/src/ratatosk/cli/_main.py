"""The ``ratatosk`` command line.

Every command is added through the ``ratatosk_register_commands(cli)`` hook, with the
:class:`CommandRegistry` methods: the built-in ones by :class:`BuiltinCommands`, a plugin registered
like any other, and the plugins' by their own implementations. Bad arguments print one line to
stderr and exit with status 2; a command that fails prints one ``error: ...`` line and exits with
status 1 (``RATATOSK_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING, Any, NoReturn

from attrs import define, field

from .._values import parse_flag
from ..hookspecs import hookimpl
from ..plugins import get_plugin_manager, list_failures, list_providers, plugin_sources

if TYPE_CHECKING:
    from ..plugins import PluginLoadFailure, ProviderInfo
    from ..schema import ChannelSchema

Configure = Callable[[argparse.ArgumentParser], object]
Run = Callable[[argparse.Namespace], "int | None"]

DEBUG_ENV = "RATATOSK_DEBUG"
_DEST = "_ratatosk_command_{depth}"
PROG = "ratatosk"


class UsageError(Exception):
    """Raised by a command for bad arguments found after parsing: exit status 2, one line."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


@define
class _Command:
    name: str
    help: str
    configure: Configure | None
    run: Run
    origin: str


@define
class _Group:
    name: str
    help: str
    origin: str
    children: dict[str, _Command | _Group] = field(factory=dict)


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name or name.startswith("-") or any(
        c.isspace() for c in name
    ):
        raise ValueError(f"a command name is a non-empty word not starting with '-', got {name!r}")


@define
class CommandRegistry:
    """Where built-in and plugin commands are added (the ``cli`` argument of
    ``ratatosk_register_commands``).

    >>> def run(args): print("hello", args.name); return 0
    >>> cli.add_command("hello", help="Say hello", run=run,
    ...                 configure=lambda p: p.add_argument("name"))
    >>> group = cli.add_group("acme", help="Acme tools")   # ratatosk acme ...
    """

    _group: _Group
    _origin: str = "ratatosk"
    _warnings: list[str] = field(factory=list)

    @classmethod
    def root(cls) -> CommandRegistry:
        """An empty registry for the top-level ``ratatosk`` command."""
        return cls(_Group(PROG, "", "ratatosk"))

    def for_origin(self, origin: str) -> CommandRegistry:
        """The same registry, recording ``origin`` (a plugin name) as the source of new commands."""
        return CommandRegistry(self._group, origin, self._warnings)

    @property
    def warnings(self) -> list[str]:
        """Problems found while plugins added commands (duplicates, failures)."""
        return self._warnings

    @property
    def names(self) -> list[str]:
        """The names of the commands and groups registered at this level."""
        return list(self._group.children)

    def add_command(
        self,
        name: str,
        *,
        help: str,
        run: Run,
        configure: Configure | None = None,
    ) -> None:
        """Add ``ratatosk [GROUP...] NAME``.

        ``configure(parser)`` adds the command's arguments to its ``argparse`` parser;
        ``run(namespace)`` does the work and returns the exit status (None means 0). A name
        already taken is ignored with a warning: the first registration wins.
        """
        _check_name(name)
        existing = self._group.children.get(name)
        if existing is not None:
            self._warnings.append(
                f"{self._origin}: command {self._path(name)!r} is already defined by "
                f"{existing.origin}; ignored")
            return
        self._group.children[name] = _Command(name, help, configure, run, self._origin)

    def add_group(self, name: str, help: str) -> CommandRegistry:
        """Add (or reuse) a group of subcommands (``ratatosk NAME SUBCOMMAND``); returns its
        registry."""
        _check_name(name)
        existing = self._group.children.get(name)
        if isinstance(existing, _Group):
            return CommandRegistry(existing, self._origin, self._warnings)
        group = _Group(name, help, self._origin)
        if existing is not None:
            self._warnings.append(
                f"{self._origin}: group {self._path(name)!r} clashes with a command defined by "
                f"{existing.origin}; its commands are ignored")
        else:
            self._group.children[name] = group
        return CommandRegistry(group, self._origin, self._warnings)

    def _path(self, name: str) -> str:
        return f"{self._group.name} {name}" if self._group.name != PROG else name

    # -- building and running ---------------------------------------------------------------
    def build_parser(self, argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
        """The ``argparse`` parser for every registered command.

        With ``argv``, only the command those arguments select is configured (its
        ``configure`` runs), so one plugin's costly set-up never slows the other commands.
        """
        from .. import __version__

        parser = _Parser(prog=PROG, description="Ratatosk: pluggable messaging from the "
                                                "command line.")
        parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
        selected = None if argv is None else _selected(self._group, argv)
        _add_children(parser, self._group, 0, selected, configure_all=argv is None)
        return parser


def _selected(root: _Group, argv: Sequence[str]) -> _Command | None:
    """The command ``argv`` names (options before and between the names are skipped)."""
    node: _Command | _Group = root
    for token in argv:
        if token == "--":
            break
        if token.startswith("-"):
            continue
        if not isinstance(node, _Group) or token not in node.children:
            break
        node = node.children[token]
        if isinstance(node, _Command):
            return node
    return None


def _add_children(
    parser: argparse.ArgumentParser, group: _Group, depth: int, selected: _Command | None,
    *, configure_all: bool,
) -> None:
    if not group.children:
        return
    sub = parser.add_subparsers(dest=_DEST.format(depth=depth), metavar="COMMAND",
                                title="commands")
    for name, child in group.children.items():
        child_parser = sub.add_parser(name, help=child.help, description=child.help)
        if isinstance(child, _Command):
            if child.configure is not None and (configure_all or child is selected):
                child.configure(child_parser)
        else:
            _add_children(child_parser, child, depth + 1, selected, configure_all=configure_all)


def _resolve(
    root: _Group, parser: argparse.ArgumentParser, args: argparse.Namespace
) -> _Command | tuple[_Group, list[str]]:
    """The command the parsed arguments chose, or the group left without a subcommand."""
    node: _Command | _Group = root
    path: list[str] = []
    depth = 0
    while isinstance(node, _Group):
        chosen = getattr(args, _DEST.format(depth=depth), None)
        if chosen is None:
            return node, path
        path.append(chosen)
        node = node.children[chosen]
        depth += 1
    return node


def _command_path(args: argparse.Namespace) -> list[str]:
    """The command names the parsed arguments chose (``["twilio", "advance"]``)."""
    path: list[str] = []
    while (name := getattr(args, _DEST.format(depth=len(path)), None)) is not None:
        path.append(name)
    return path


# ---------------------------------------------------------------------------------------------
# Output helpers
# ---------------------------------------------------------------------------------------------

Row = Sequence[str]


@define
class Section:
    """A titled table (or a list of ``key: value`` lines when ``headers`` is empty)."""

    title: str
    headers: tuple[str, ...]
    rows: list[Row]


def use_rich(stream: IO[str]) -> bool:
    """Rich formatting only on a terminal, with rich installed, and neither ``NO_COLOR`` nor
    ``RATATOSK_PLAIN`` set (piped output is plain text)."""
    if os.environ.get("NO_COLOR") or os.environ.get("RATATOSK_PLAIN"):
        return False
    try:
        if not stream.isatty():
            return False
    except (AttributeError, ValueError):
        return False
    import importlib.util

    return importlib.util.find_spec("rich") is not None


def render(sections: Sequence[Section], stream: IO[str] | None = None) -> None:
    """Print sections as tables: with ``rich`` on a terminal when installed, else plain text."""
    out = stream if stream is not None else sys.stdout
    if use_rich(out):
        _render_rich(sections, out)
    else:
        out.write(render_plain(sections))


def render_plain(sections: Sequence[Section]) -> str:
    """Sections as plain, aligned text."""
    lines: list[str] = []
    for index, section in enumerate(sections):
        if index:
            lines.append("")
        if section.title:
            lines.append(section.title)
        table: list[Row] = ([section.headers] if section.headers else []) + list(section.rows)
        if section.headers and not section.rows:
            lines.append("  (none)")
            continue
        if not table:
            continue
        widths = [max(len(row[i]) if i < len(row) else 0 for row in table)
                  for i in range(max(len(r) for r in table))]
        for row in table:
            cells = [cell.ljust(widths[i]) for i, cell in enumerate(row)]
            lines.append(("  " + "  ".join(cells)).rstrip())
    return "\n".join(lines) + "\n"


def _render_rich(sections: Sequence[Section], out: IO[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out)
    for section in sections:
        if not section.rows and not section.headers:
            console.print(section.title, markup=False)
            continue
        table = Table(title=section.title or None, title_justify="left",
                      show_header=bool(section.headers))
        for header in section.headers or ("", ""):
            table.add_column(header)
        for row in section.rows:
            table.add_row(*row)
        console.print(table)


def _print_json(data: Any) -> None:
    import json

    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


# ---------------------------------------------------------------------------------------------
# Built-in commands
# ---------------------------------------------------------------------------------------------


def _providers_data(
    providers: Sequence[ProviderInfo], failures: Sequence[PluginLoadFailure]
) -> dict[str, Any]:
    import cattrs

    converter = cattrs.Converter()
    return {"providers": converter.unstructure(list(providers)),
            "failures": converter.unstructure(list(failures))}


def _run_providers(args: argparse.Namespace) -> int:

    providers = list_providers()
    failures = list_failures()
    if args.json:
        _print_json(_providers_data(providers, failures))
        return 0
    sections: list[Section] = []
    for provider in providers:
        version = f" {provider.version}" if provider.version else ""
        rows: list[Row] = [
            [c.id + (" (default)" if c.is_default else ""), c.schema,
             ", ".join(c.presets) or "-", c.class_path]
            for c in provider.connectors
        ]
        sections.append(Section(f"{provider.name} ({provider.distribution}{version})",
                                ("connector", "schema", "presets", "class"), rows))
    if not providers:
        sections.append(Section(
            "No providers are installed (pip install a provider, e.g. "
            "ratatosk-messaging-twilio or ratatosk-messaging-vonage).", (), []))
    if failures:
        sections.append(Section("Plugins that failed to load:", ("plugin", "distribution",
                                                                 "error"),
                                [[f.name, f.distribution or "-", f.error] for f in failures]))
    render(sections)
    return 0


def _configure_providers(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON for tools")


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _flag_names(value: Any) -> str:
    names = [member.name for member in type(value) if member.value and member in value]
    return ", ".join(n for n in names if n) or "-"


def schema_sections(schema: ChannelSchema, presets: Sequence[str] = ()) -> list[Section]:
    """A schema as printable sections (identity, parameters, properties, authentication...)."""
    summary: list[Row] = [
        ["identity", schema.identity],
        ["display name", schema.display_name or "-"],
        ["preset", schema.name or "-"],
        ["capabilities", _flag_names(schema.capabilities)],
        ["content types", ", ".join(c.name for c in schema.content_types) or "-"],
        ["strict", _yes(schema.strict)],
    ]
    if schema.description:
        summary.insert(2, ["description", schema.description])
    if presets:
        summary.append(["presets", ", ".join(presets)])
    endpoints: list[Row] = [[e.type.name, _yes(e.can_send), _yes(e.can_receive),
                             _yes(e.required)] for e in schema.endpoints]
    parameters: list[Row] = [
        [p.name, p.data_type.value, _yes(p.required), _yes(p.sensitive),
         "-" if p.default is None else str(p.default),
         ", ".join(str(v) for v in p.allowed_values) or "-", p.description]
        for p in schema.parameters
    ]
    properties: list[Row] = []
    for prop in schema.message_properties:
        c = prop.constraints
        limits = [f"{label} {value}" for label, value in (
            ("min", c.min_value), ("max", c.max_value), ("min length", c.min_length),
            ("max length", c.max_length), ("pattern", c.pattern)) if value is not None]
        if c.allowed_values:
            limits.append("one of " + ", ".join(str(v) for v in c.allowed_values))
        properties.append([prop.name, prop.data_type.value, _yes(prop.required),
                           "; ".join(limits) or "-", prop.description])
    auth: list[Row] = [[a.scheme.value, ", ".join(f"{f.parameter} ({f.role.value})"
                                                 for f in a.fields) or "-", a.description]
                       for a in schema.authentication]
    return [
        Section(f"Schema {schema.identity}", (), summary),
        Section("Endpoints", ("type", "send", "receive", "required"), endpoints),
        Section("Parameters", ("name", "type", "required", "sensitive", "default", "allowed",
                               "description"), parameters),
        Section("Message properties", ("name", "type", "required", "constraints",
                                       "description"), properties),
        Section("Authentication", ("scheme", "fields", "description"), auth),
    ]


def _run_schema(args: argparse.Namespace) -> int:
    from .._connect import resolve_connector_class

    target: str = args.connector
    provider, _, connector_type = target.partition("/")
    if not provider:
        raise UsageError(f"{target!r} is not a connector id (use provider/type)")
    cls = resolve_connector_class(provider, connector_type or None)
    schema = cls.resolve_schema(args.preset)
    if args.json:
        sys.stdout.write(schema.to_json() + "\n")
        return 0
    render(schema_sections(schema, sorted(cls.presets or {})))
    return 0


def _configure_schema(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("connector", metavar="PROVIDER/TYPE",
                        help="the connector id, e.g. twilio/sms")
    parser.add_argument("--preset", metavar="NAME", help="show this preset instead of the "
                                                         "default schema")
    parser.add_argument("--json", action="store_true", help="print the schema's JSON export")


def register_builtin_commands(cli: CommandRegistry) -> None:
    """Add ``ratatosk providers`` and ``ratatosk schema``."""
    cli.add_command("providers", help="List installed providers, connectors and plugin failures",
                    configure=_configure_providers, run=_run_providers)
    cli.add_command("schema", help="Show a connector's schema (or a preset's)",
                    configure=_configure_schema, run=_run_schema)


def _lazy(name: str) -> Callable[[Any], Any]:
    """A function from ``ratatosk.cli._send``, imported when the command runs (fast start-up)."""

    def call(arg: Any) -> Any:
        from . import _send

        return getattr(_send, name)(arg)

    return call


def register_messaging_commands(cli: CommandRegistry) -> None:
    """Add ``ratatosk send``, ``ratatosk status`` and ``ratatosk campaign status``."""
    cli.add_command("send", help="Send one message, or many from a CSV/JSONL file",
                    configure=_lazy("configure_send"), run=_lazy("run_send"))
    cli.add_command("status", help="Show a message's status", configure=_lazy("configure_status"),
                    run=_lazy("run_status"))
    campaign = cli.add_group("campaign", help="Campaigns recorded in the delivery ledger")
    campaign.add_command("status", help="Show a campaign's messages by state, segments and cost",
                         configure=_lazy("configure_campaign_status"),
                         run=_lazy("run_campaign_status"))


class BuiltinCommands:
    """The project's own commands, a plugin registered through ``ratatosk_register_commands``
    like any other (``trylast`` so that they are added first and plugins cannot shadow them)."""

    name = "ratatosk.builtin-commands"

    @hookimpl(trylast=True)
    def ratatosk_register_commands(self, cli: CommandRegistry) -> None:
        register_builtin_commands(cli)
        register_messaging_commands(cli)


def build_registry() -> CommandRegistry:
    """The registry with every plugin's commands, the built-in plugin's first."""
    manager = get_plugin_manager()
    if manager.get_plugin(BuiltinCommands.name) is None:
        manager.register(BuiltinCommands(), BuiltinCommands.name)
    sources = plugin_sources()
    registry = CommandRegistry.root()
    for impl in manager.hook.ratatosk_register_commands.get_hookimpls():
        if impl.hookwrapper or impl.wrapper:
            continue
        if impl.plugin_name == BuiltinCommands.name:
            view = registry
            origin = "ratatosk"
        else:
            source = sources.get(impl.plugin_name)
            origin = f"plugin {impl.plugin_name!r}" + (
                f" ({source.distribution})" if source and source.distribution != "<code>" else "")
            view = registry.for_origin(origin)
        try:
            impl.function(*[{"cli": view}[arg] for arg in impl.argnames])
        except Exception as exc:  # one plugin's bug must not break the command line
            if _debug() or view is registry:
                raise
            registry.warnings.append(f"{origin}: failed to add its commands: "
                                     f"{_first_line(exc)}")
    return registry


def _debug() -> bool:
    return parse_flag(os.environ.get(DEBUG_ENV))


def _first_line(exc: BaseException) -> str:
    from .._errors import MessagingError

    text = str(exc.error.message if isinstance(exc, MessagingError) else exc).strip()
    line = text.splitlines()[0] if text else ""
    if isinstance(exc, MessagingError):
        return f"{line} [{exc.code}]"
    return line or type(exc).__name__


def _problem_lines(exc: BaseException) -> str:
    """One indented ``field: message`` line per problem an error carries (``issues``)."""
    error = getattr(exc, "error", exc)
    issues = getattr(error, "issues", None) or ()
    return "".join(f"  {issue.field}: {issue.message}\n" for issue in issues
                   if hasattr(issue, "field") and hasattr(issue, "message"))


def main(argv: list[str] | None = None) -> int:
    """Run the ``ratatosk`` command line; returns the exit status."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    try:
        registry = build_registry()
        for warning in registry.warnings:
            sys.stderr.write(f"warning: {warning}\n")
        parser = registry.build_parser(arguments)
    except Exception as exc:
        if _debug():
            raise
        sys.stderr.write(f"error: {_first_line(exc)}\n")
        return 1
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:  # --help, --version, bad arguments
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    chosen = _resolve(registry._group, parser, args)
    if not isinstance(chosen, _Command):
        _group, path = chosen
        prog = " ".join([PROG, *path])
        sys.stderr.write(f"{prog}: error: a command is required (see '{prog} --help')\n")
        return 2
    try:
        status = chosen.run(args)
    except UsageError as exc:
        prog = " ".join([PROG, *_command_path(args)])
        sys.stderr.write(f"{prog}: error: {exc} (see '{prog} --help')\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:
        if _debug():
            raise
        sys.stderr.write(f"error: {_first_line(exc)}\n{_problem_lines(exc)}")
        return 1
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return 1
    return 0 if status is None else int(status)

