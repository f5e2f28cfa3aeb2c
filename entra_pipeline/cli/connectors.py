"""`entra-pipeline connector ...`: create (the spec's three steps), add (from flags, for
configuration as code), list, show, edit, delete, rotate-secret."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ..config import CONNECTORS_FILE, KEY_FILE, SecretBox, home_folder
from .terminal import printable, printable_lines

T = TypeVar("T")

# Flag -> connectors.yaml field (schedule flags -> schedule.*).
FLAG_FIELDS = {
    "name": "name",
    "description": "description",
    "tenant_id": "tenant_id",
    "client_id": "client_id",
    "client_secret_env": "client_secret_env",
    "cloud": "cloud",
    "authority_host": "authority_host",
    "graph_endpoint": "graph_endpoint",
    "ca_bundle": "ca_bundle",
    "asset_types": "asset_types",
    "baseline": "baseline",
    "retain_previous_delta": "retain_previous_delta",
    "require_manual_sync": "require_manual_sync",
    "occurs": "schedule.occurs",
    "start": "schedule.start",
    "end": "schedule.end",
    "every": "schedule.every",
    "cron": "schedule.cron",
    "timezone": "schedule.timezone",
}
# Field -> the flag that sets it, for the wizard's messages ("--end: ...", not "schedule.end: ...").
FLAG_OF = {field: "--" + flag.replace("_", "-") for flag, field in FLAG_FIELDS.items()}
FLAG_OF["client_secret"] = "--client-secret-stdin"
# The shell's exit code for a command ended by Ctrl-C (128 + SIGINT).
CANCELLED = 130


def home_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", help="home folder (default: $ENTRA_PIPELINE_HOME, else ~/.entra-pipeline)")


def _settings_flags(parser: argparse.ArgumentParser, required: bool) -> None:
    """The spec's questions as flags (all optional for `create`, which asks for what is missing)."""
    if required:
        parser.add_argument("--name", required=True)
    parser.add_argument("--description", help="up to 180 characters")
    parser.add_argument("--tenant-id", required=required, help="directory (tenant) id, or a verified domain")
    parser.add_argument("--client-id", required=required, help="application (client) id")
    secret = parser.add_mutually_exclusive_group(required=required)
    secret.add_argument(
        "--client-secret-stdin",
        action="store_true",
        help="read the client secret from standard input; it is stored encrypted",
    )
    secret.add_argument("--client-secret-env", metavar="VAR", help="read the secret from this variable at run time")
    parser.add_argument("--cloud", help="global (default) | usgov | usgov-dod | china")
    parser.add_argument("--authority-host", help="https origin of the identity platform (simulator, proxy)")
    parser.add_argument("--graph-endpoint", help="https origin of Microsoft Graph (simulator, proxy)")
    parser.add_argument("--ca-bundle", help="extra CA certificate(s) to trust (verification stays on)")
    parser.add_argument("--asset-types", help="identities_only (default) | identities_with_security_posture")
    parser.add_argument("--baseline", help="weekly (default) | fortnightly | triweekly | monthly")
    parser.add_argument("--retain-previous-delta", action="store_const", const=True)
    parser.add_argument("--require-manual-sync", action="store_const", const=True)
    parser.add_argument("--occurs", choices=("single", "recurring"), help="schedule: a single occurrence or recurring")
    parser.add_argument("--start", help="schedule start, local time in --timezone, e.g. '2026-12-01 02:00'")
    parser.add_argument("--end", help="recurring schedule end, local time in --timezone")
    parser.add_argument("--every", help="recurring interval, e.g. 30m, 6h, 1d")
    parser.add_argument("--cron", help="recurring cron (five fields) instead of --every")
    parser.add_argument("--timezone", help="IANA timezone of start and end (default UTC), e.g. Asia/Calcutta")


def _answers(args: argparse.Namespace, home) -> tuple[dict, set[str]]:
    """The flags given, as a connectors.yaml entry in the making, and which fields they set."""
    from .wizard import set_field

    answers: dict = {}
    given: set[str] = set()
    for flag, field in FLAG_FIELDS.items():
        value = getattr(args, flag, None)
        if value is not None:
            set_field(answers, field, value)
            given.add(field)
    if "schedule" in answers and "timezone" not in answers["schedule"] and args.occurs:
        answers["schedule"]["timezone"] = "UTC"
        given.add("schedule.timezone")
    if getattr(args, "client_secret_stdin", False):
        plain = sys.stdin.readline().strip()
        if not plain:
            raise SystemExit("entra-pipeline connector: no client secret on standard input")
        answers["client_secret"] = SecretBox(home).encrypt(plain)
        given.add("client_secret")
    return answers, given


class _PrintableConsole:
    """The wizard's terminal, what it says and asks made safe to print: its lines quote the
    settings and Test Connection's errors, from connectors.yaml and the identity platform."""

    def __init__(self, interactive: bool) -> None:
        from .wizard import Terminal

        self.terminal, self.interactive = Terminal(interactive), interactive

    def ask(self, prompt: str, secret: bool = False) -> str:
        return self.terminal.ask(printable(prompt), secret)

    def say(self, text: str) -> None:
        self.terminal.say(printable_lines(text))


def _console(args: argparse.Namespace):
    return _PrintableConsole(sys.stdin.isatty() and not args.no_input and not args.client_secret_stdin)


def _abort(error) -> int:
    print(f"entra-pipeline connector: {printable_lines(error)}", file=sys.stderr)
    return 2


def _guarded(command: str, kept: str, flow: Callable[[], T], keyless_home: Path | None = None) -> T | int:
    """Run a wizard flow; Ctrl-C or the end of input anywhere in it leaves with one line saying
    what was kept (the flows write connectors.yaml only as their last step), never a traceback.
    On `keyless_home` (no key file before the command), a key file made to encrypt the typed
    secret goes too when nothing was saved: no connector's secret is encrypted with it."""
    from .wizard import SetupAborted

    try:
        return flow()
    except KeyboardInterrupt:
        print(f"\nconnector {command} cancelled: {kept}", file=sys.stderr)
        return CANCELLED
    except EOFError:
        print(f"\nconnector {command} cancelled (input ended): {kept}", file=sys.stderr)
        return 2
    except SetupAborted as error:
        return _abort(error)
    finally:
        if keyless_home is not None and not (keyless_home / CONNECTORS_FILE).exists():
            (keyless_home / KEY_FILE).unlink(missing_ok=True)


def _create(args: argparse.Namespace) -> int:
    from ..sync.schedule import confirmation
    from .wizard import create

    home = home_folder(args.home)
    keyless = not (home / KEY_FILE).exists()  # before the flags' secret is encrypted
    answers, given = _answers(args, home)
    connector = _guarded(
        "create",
        "nothing saved",
        lambda: create(_console(args), home, answers, given, assume_yes=args.yes, flags=FLAG_OF),
        home if keyless else None,
    )
    if isinstance(connector, int):
        return connector
    print(f"Connector {connector.name!r} created: Registered. {confirmation(connector)}")
    if connector.schedule and not connector.require_manual_sync:
        print("It becomes Scheduled when the Dagster daemon runs its schedule (dagster dev, or the daemon).")
    return 0


def _add(args: argparse.Namespace) -> int:
    """From flags only, without Test Connection: configuration as code (checked like create)."""
    from ..config import ConfigError, parse_connectors, save_connector
    from ..sync.schedule import confirmation

    home = home_folder(args.home)
    answers, _ = _answers(args, home)
    try:
        [connector] = parse_connectors({"connectors": [answers]}, "connector add")
        path = save_connector(home, connector, replace=args.replace)
    except ConfigError as error:
        print(printable_lines(str(error).replace("connector add: ", "")), file=sys.stderr)
        return 2
    print(
        f"Connector {connector.name!r} saved in {path} (secret stored "
        f"{'encrypted' if connector.client_secret else 'as a reference to $' + str(connector.client_secret_env)})."
    )
    print(confirmation(connector))
    return 0


def _list(args: argparse.Namespace) -> int:
    from ..config import load_connectors
    from ..sync.schedule import confirmation

    home = home_folder(args.home)
    connectors = load_connectors(home)
    if not connectors:
        print(f"No connectors in {home}. Create one with `entra-pipeline connector create`.")
    for connector in connectors:
        print(
            f"{connector.name:24} tenant {printable(connector.tenant_id)}  {connector.asset_types}  "
            f"{printable(connector.graph_host)}"
        )
        print(f"{'':24} {printable(confirmation(connector))}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from ..config import find_connector
    from .wizard import review

    connector = find_connector(home_folder(args.home), args.name)
    print("\n".join(printable(line) for line in review(connector)))  # one setting per line, whatever it holds
    return 0


def _edit(args: argparse.Namespace) -> int:
    from ..config import find_connector
    from .wizard import edit

    home = home_folder(args.home)
    existing = find_connector(home, args.name)
    changes, given = _answers(args, home)
    saved = _guarded(
        "edit",
        "nothing saved, the connector is unchanged",
        lambda: edit(_console(args), home, existing, changes, given, assume_yes=args.yes, flags=FLAG_OF),
    )
    if isinstance(saved, int):
        return saved
    print(f"Connector {args.name!r} saved.")
    return 0


def _rotate_secret(args: argparse.Namespace) -> int:
    from ..config import find_connector
    from .wizard import SECRET_KEPT, rotate_secret

    home = home_folder(args.home)
    existing = find_connector(home, args.name)
    plain = sys.stdin.readline().strip() if args.client_secret_stdin else None
    if args.client_secret_stdin and not plain:
        return _abort(f"no client secret on standard input; {SECRET_KEPT}")
    console = _PrintableConsole(sys.stdin.isatty() and not args.client_secret_stdin)
    rotated = _guarded("rotate-secret", SECRET_KEPT, lambda: rotate_secret(console, home, existing, plain))
    if isinstance(rotated, int):
        return rotated
    print(f"New client secret for {args.name!r} passed Test Connection and is saved encrypted.")
    return 0


def _delete(args: argparse.Namespace) -> int:
    from ..config import delete_connector, find_connector
    from ..store import open_store
    from .wizard import confirm

    home = home_folder(args.home)
    connector = find_connector(home, args.name)
    what = "its configuration" + (", its state, raw data and local inventory records" if args.purge else "")
    asked = _guarded(
        "delete",
        "nothing deleted",
        lambda: confirm(_PrintableConsole(sys.stdin.isatty()), f"Delete connector {args.name!r} ({what})?", args.yes),
    )
    if asked is not True:
        if asked is False:
            print("Nothing deleted.")
            return 1
        return asked
    delete_connector(home, connector.name)
    if args.purge:
        removed = open_store(home).forget(connector.name)
        print(f"Connector {args.name!r} deleted with its state and {removed} local inventory record(s).")
    else:
        print(f"Connector {args.name!r} deleted; its state and inventory records are kept (--purge removes them).")
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    connector = commands.add_parser("connector", help="set up and manage connectors (connectors.yaml in the home)")
    sub = connector.add_subparsers(dest="connector_command", required=True)

    create = sub.add_parser(
        "create",
        help="the spec's three steps: Profile & Connectivity (with Test Connection), "
        "Scope & Schedule, Review & Confirm; asks for what flags do not give",
    )
    home_argument(create)
    create.add_argument("--name")
    _settings_flags(create, required=False)
    create.add_argument("--no-input", action="store_true", help="never prompt: flags and defaults only")
    create.add_argument("--yes", action="store_true", help="confirm the review without asking")
    create.set_defaults(func=_create)

    add = sub.add_parser(
        "add",
        help="save a connector from flags alone, without Test Connection (configuration "
        "as code); the secret is read from stdin or an environment variable",
    )
    home_argument(add)
    _settings_flags(add, required=True)
    add.add_argument("--replace", action="store_true", help="replace a connector of the same name")
    add.set_defaults(func=_add)

    listing = sub.add_parser("list", help="list configured connectors")
    home_argument(listing)
    listing.set_defaults(func=_list)

    show = sub.add_parser("show", help="every setting of a connector (secret masked)")
    home_argument(show)
    show.add_argument("name")
    show.set_defaults(func=_show)

    edit = sub.add_parser("edit", help="change a connector's settings (same questions and checks as create)")
    home_argument(edit)
    edit.add_argument("name")
    _settings_flags(edit, required=False)
    edit.add_argument("--no-input", action="store_true", help="never prompt: apply the flags")
    edit.add_argument("--yes", action="store_true", help="confirm the review without asking")
    edit.set_defaults(func=_edit)

    rotate = sub.add_parser("rotate-secret", help="a new client secret: Test Connection with it, then saved")
    home_argument(rotate)
    rotate.add_argument("name")
    rotate.add_argument("--client-secret-stdin", action="store_true", help="read the new secret from stdin")
    rotate.set_defaults(func=_rotate_secret)

    delete = sub.add_parser("delete", help="remove a connector (asks first)")
    home_argument(delete)
    delete.add_argument("name")
    delete.add_argument(
        "--purge", action="store_true", help="also remove its state, raw data and local inventory records"
    )
    delete.add_argument("--yes", action="store_true", help="do not ask")
    delete.set_defaults(func=_delete)
