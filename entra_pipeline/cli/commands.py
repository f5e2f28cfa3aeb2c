"""The `entra-pipeline` command."""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import shlex
import signal
import sys
import warnings
from pathlib import Path

from .. import redact
from ..transform.maps import MAPS
from . import connectors as cli_connectors
from . import store as cli_store
from .connectors import home_argument as _home_argument
from .progress import LiveLine
from .terminal import json_line, printable, printable_data, printable_lines


def _permissions(text: str) -> tuple[str, ...]:
    return tuple(p for p in text.replace(",", " ").split() if p)


def _simulator_parser(commands: argparse._SubParsersAction) -> None:
    simulator = commands.add_parser("simulator", help="the embedded Microsoft Graph tenant simulator")
    sim_commands = simulator.add_subparsers(dest="sim_command", required=True)
    serve = sim_commands.add_parser(
        "serve",
        help="serve a simulated Entra tenant (identity platform + Graph v1.0) over HTTPS",
        description="Serve a deterministic, wire-faithful Entra ID tenant on https://127.0.0.1:PORT. "
        "Prints the authority URL, Graph endpoint, tenant id, a working client id and secret, and the "
        "CA certificate to trust.",
    )
    serve.add_argument("--port", type=int, default=8443, help="port on 127.0.0.1 (0 = any free port; default 8443)")
    serve.add_argument("--users", type=int, default=1000, help="number of users (default 1000)")
    serve.add_argument("--seed", type=int, default=7, help="generation seed: same seed, same tenant (default 7)")
    serve.add_argument(
        "--tenant-size",
        choices=("S", "M", "L"),
        help="throttling class: S 3,500 / M 5,000 / L 8,000 RU per 10 s (default: from --users)",
    )
    serve.add_argument("--groups", type=int, help="number of groups (default users/10, at least 12)")
    serve.add_argument("--applications", type=int, help="number of applications (default users/1000, at least 8)")
    serve.add_argument(
        "--profile",
        choices=("classic", "realistic"),
        default="classic",
        help="tenant shape: classic (default) or realistic (long-tailed groups, ~620 first-party "
        "service principals, users/30 apps; see docs/simulator.md)",
    )
    serve.add_argument("--latency-ms", type=float, default=0.0, help="added latency per request (default 0)")
    serve.add_argument(
        "--granted-permissions",
        type=_permissions,
        help="application permissions granted to the connector app, comma-separated (default: the spec's list)",
    )
    serve.add_argument(
        "--faults",
        action="append",
        default=[],
        help="fault rules, comma-separated, e.g. '503@0.05,reset@#12,forbidden=applications' (see docs/simulator.md)",
    )
    serve.add_argument("--no-throttling", action="store_true", help="count resource units but never answer 429")
    serve.add_argument("--token-lifetime", type=int, default=3599, help="access token lifetime in seconds")
    serve.add_argument(
        "--secret-expires-in-days",
        type=float,
        default=365.0,
        help="days until the connector app's client secret expires (AADSTS7000222 after)",
    )
    serve.add_argument(
        "--state-dir", type=Path, help="where to write the CA and server certificates (default: a temporary folder)"
    )
    serve.add_argument("--json", action="store_true", help="print the connection facts as one JSON line first")
    serve.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from ..simulator import Simulator, SimulatorConfig
    from ..simulator.catalog import SPEC_PERMISSIONS

    faults = tuple(spec for group in args.faults for spec in group.split(",") if spec.strip())
    try:
        config = SimulatorConfig(
            users=args.users,
            seed=args.seed,
            tenant_size=args.tenant_size,
            groups=args.groups,
            applications=args.applications,
            profile=args.profile,
            latency_ms=args.latency_ms,
            granted_permissions=args.granted_permissions if args.granted_permissions is not None else SPEC_PERMISSIONS,
            faults=faults,
            throttling=not args.no_throttling,
            token_lifetime=args.token_lifetime,
            secret_expires_in_days=args.secret_expires_in_days,
            port=args.port,
            state_dir=args.state_dir,
        )
    except ValueError as error:
        print(f"entra-pipeline simulator serve: {error}", file=sys.stderr)
        return 2
    if not args.json:
        print(f"Generating a tenant of {args.users} users (seed {args.seed})...", file=sys.stderr, flush=True)
    simulator = Simulator(config)

    def announce(sim: Simulator) -> None:
        info = sim.info
        if args.json:
            print(json.dumps(info.as_dict()), flush=True)
            return
        tenant = sim.tenant
        print(
            "Microsoft Entra ID / Graph simulator is serving\n"
            f"  authority host   {info.authority_host}\n"
            f"  graph endpoint   {info.graph_endpoint}   (Graph v1.0 under /v1.0)\n"
            f"  tenant id        {info.tenant_id}   (domain {info.domain})\n"
            f"  client id        {info.client_id}\n"
            f"  client secret    {info.client_secret}\n"
            f"  CA bundle        {info.ca_bundle}\n"
            f"  tenant           {len(tenant.users)} users, {len(tenant.groups)} groups, "
            f"{len(tenant.role_definitions)} role definitions, {len(tenant.applications)} applications, "
            f"{len(tenant.service_principals)} service principals\n"
            f"  throttling       {sim.throttle.size}: {sim.throttle.limit} RU per 10 s"
            f"{'' if sim.throttle.enabled else ' (counted, never enforced)'}\n"
            f"  admin            {info.graph_endpoint}/_sim/stats  {info.graph_endpoint}/_sim/truth\n"
            "Press Ctrl+C to stop.",
            flush=True,
        )

    try:
        simulator.serve_forever(on_ready=announce)
    except OSError as error:
        print(
            f"entra-pipeline simulator serve: cannot listen on 127.0.0.1:{args.port}: {error.strerror}", file=sys.stderr
        )
        return 1
    finally:
        simulator.stop()
    return 0


def _test_connection_parser(commands: argparse._SubParsersAction) -> None:
    test = commands.add_parser("test-connection", help="run the spec's five Test Connection checks")
    _home_argument(test)
    test.add_argument("--connector", required=True)
    test.set_defaults(func=_test_connection)


def _test_connection(args: argparse.Namespace) -> int:
    from ..config import home_folder
    from ..graph.connection_test import run_checks

    home = home_folder(args.home)
    connector = pick_connector(home, args.connector, "test-connection")
    if connector is None:
        return EXIT_USAGE
    _warn_unsafe(home)
    print(f"Test Connection: {connector.name} (tenant {printable(connector.tenant_id)})")
    results = run_checks(connector, home)
    for result in results:
        print("  " + printable_lines(result.line()))
    passed = all(r.passed for r in results)
    print("All five checks passed." if passed else "Test Connection failed.")
    if passed:
        from ..graph.secret_expiry import secret_expiry_note

        expiry, warning = secret_expiry_note(connector, home)
        if warning:
            print(f"  Warning: {printable(warning)}")
        elif expiry and expiry.ends:
            print(f"  Client secret valid until {expiry.ends:%Y-%m-%d %H:%M} UTC ({printable(expiry.detail)}).")
        elif expiry:
            print(f"  Client secret expiry unknown: {printable(expiry.detail)}.")
    return 0 if passed else 1


def _sync_parser(commands: argparse._SubParsersAction) -> None:
    sync = commands.add_parser(
        "sync",
        help="run a connector's pull now (a Dagster materialization)",
        epilog=EXIT_CODES_HELP + " (docs/operator.md)",
    )
    _home_argument(sync)
    sync.add_argument("--connector", required=True)
    sync.add_argument(
        "--full",
        action="store_true",
        help="full pull of users and groups (otherwise delta from the last committed links); "
        "also what repairs damaged state",
    )
    sync.add_argument(
        "--wait",
        type=float,
        metavar="SECONDS",
        help="how long to wait while another run holds the connector (default $ENTRA_PIPELINE_LEASE_WAIT, else 180)",
    )
    sync.set_defaults(func=_sync)


def _sync(args: argparse.Namespace) -> int:
    from ..config import home_folder

    home = home_folder(args.home)
    connector = pick_connector(home, args.connector, "sync")
    if connector is None:
        return EXIT_USAGE
    _warn_unsafe(home)
    return _run_sync(connector, home, full=args.full, wait=args.wait)


def _warn_unsafe(home: Path) -> None:
    from .home_permissions import unsafe_permissions

    for warning in unsafe_permissions(home):
        print(f"warning: {warning}", file=sys.stderr)


def _progress_to_stdout() -> None:
    """Our own log lines (what is fetched, retried, skipped) on stdout; on a terminal also one
    live line counting pages and objects per listing and upload batches."""
    import logging

    from .progress import LiveLine

    logger = logging.getLogger("entra_pipeline")
    if not any(isinstance(h, LiveLine) for h in logger.handlers):
        handler = _PrintableLiveLine(sys.stdout, live=sys.stdout.isatty())
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG if handler.live else logging.INFO)


class _PrintableLiveLine(LiveLine):
    """Prints a copy of each message made safe (messages name skipped objects and quote Graph's
    errors); the record other handlers and Dagster's run log get is left as it was.

    A part that could not be read is not printed as it happens: the run's outcome names every
    such part once, grouped by cause (`_print_outcome`). What is printed is remembered, so the
    outcome does not repeat it."""

    def __init__(self, stream, live: bool) -> None:
        super().__init__(stream, live)
        self.said: set[str] = set()
        self.graph_total: dict | None = None

    def emit(self, record: logging.LogRecord) -> None:
        total = getattr(record, "graph_total", None)
        if total is not None:  # the pull's cost: the figures' total line says it
            self.graph_total = total
            return
        if getattr(record, "progress", None) is None:
            message = record.getMessage()
            if record.levelno >= logging.WARNING and _said_by_outcome(message):
                return
            if record.levelno >= logging.INFO:
                self.said.add(message)
            shown = copy.copy(record)
            shown.msg, shown.args = printable_lines(message, indent="     "), None
            record = shown
        super().emit(record)


def _said_by_outcome(message: str) -> bool:
    """The plan's "could not read <part>: <error>": the outcome names the assets it stopped."""
    return message.startswith("could not read ")


def _finish_progress() -> tuple[set[str], dict | None]:
    """Clear the live line; what it printed, and the pull's Graph cost if it saw one."""
    said: set[str] = set()
    total = None
    for handler in logging.getLogger("entra_pipeline").handlers:
        if isinstance(handler, _PrintableLiveLine):
            handler.finish()
            said |= handler.said
            total, handler.graph_total = handler.graph_total, None
            handler.said = set()
    return said, total


# Exit codes of `sync` and `demo` (docs/operator.md): automation tells the outcomes apart.
EXIT_PROCESSED, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL, EXIT_CANCELLED = 0, 1, 2, 3, 130
EXIT_CODES_HELP = (
    "exit status: 0 Processed, 3 Partially Processed (some data not fetched or not delivered; "
    "what was kept is said), 1 Failed, 2 a usage or configuration error, 130 cancelled (Ctrl-C, SIGTERM)"
)


def exit_code(outcome) -> int:
    from ..sync.outcome import PARTIALLY_PROCESSED, PROCESSED
    from ..sync.pipeline import INTERRUPTED

    if INTERRUPTED in (outcome.failure or ""):
        return EXIT_CANCELLED
    if outcome.success and outcome.state == PROCESSED:
        return EXIT_PROCESSED
    if outcome.success and outcome.state == PARTIALLY_PROCESSED:
        return EXIT_PARTIAL
    return EXIT_FAILED


def _raw_rows(materialized: dict[str, dict]) -> tuple[list[str], dict[str, float]]:
    """One line per raw asset. Assets read from the same listing (roles and their assignments,
    service principals and their app role assignments, memberships from the groups', roles' and
    units' listings) share its requests: they are shown once, on the asset listed first, so the
    column adds up to the total."""
    from ..graph.collect import requests_shown_with

    lines, total = [], {"graph_requests": 0, "resource_units": 0, "throttled_429": 0}
    for name, metadata in materialized.items():
        if not name.startswith("raw/"):
            continue
        asset = name.removeprefix("raw/")
        mode = f"  {metadata['pull_mode']} ({metadata['changes_in_round']} items)" if "pull_mode" in metadata else ""
        sharing = requests_shown_with(asset)
        if sharing:
            cost = f"{'(requests with ' + ', '.join(sharing) + ')':>33}"
        else:
            cost = (
                f"{metadata.get('graph_requests', 0):>6} requests  {metadata.get('resource_units', 0):>6} RU  "
                f"{metadata.get('throttled_429', 0):>4} x 429"
            )
            for figure in total:
                total[figure] += metadata.get(figure, 0)
        lines.append(f"  {name:32} {metadata.get('count', 0):>9} objects  {cost}{mode}")
    return lines, total


def _pull_words(pull: str | None, cycle: str) -> str:
    if pull == "baseline":
        return f"baseline (full) pull, cycle {cycle}"
    if pull == "delta":
        return f"delta run in baseline cycle {cycle}"
    return f"baseline cycle {cycle}"


def _print_figures(outcome, graph_total: dict | None) -> None:
    """What the run pulled, built and delivered, with its Graph cost counted once."""
    from .report import ENTITY_FIGURES

    lines, shown = _raw_rows(outcome.materialized)
    for line in lines:
        print(line)
    if graph_total:
        others = graph_total["graph_requests"] - shown["graph_requests"]
        # What the rows do not show: parts that failed, the client secret's expiry (one request).
        rest = (
            f" ({others} not in the rows above: the client secret's expiry, listings that failed)" if others > 0 else ""
        )
        print(
            f"  Graph in all: {graph_total['graph_requests']} requests, {graph_total['resource_units']} RU, "
            f"{graph_total['throttled_429']} x 429, {graph_total['retries']} retried, in "
            f"{graph_total['seconds']:.1f} s{rest}"
        )
    records: dict[str, int] = {}
    for name, metadata in outcome.materialized.items():
        if name.startswith("records/"):
            records[name.removeprefix("records/")] = metadata.get("count", 0)
            print(f"  {name:32} {metadata.get('count', 0):>9} records  {metadata.get('rejected', 0):>6} rejected")
    upload = outcome.materialized.get("upload")
    if not upload:
        return
    per_entity: dict[str, list[str]] = {}
    for key, value in upload.items():
        entity, _, what = key.rpartition("_")
        if entity and what in ENTITY_FIGURES:
            per_entity.setdefault(entity, []).append(f"{what} {value}")
    delivered = sum(records.get(entity, 0) for entity in per_entity)
    print(
        f"  upload to {printable(upload['destination'])}: {upload['entities_delivered']} entity types delivered "
        f"({delivered:,} records), {upload['entities_skipped']} held back"
    )
    for entity, figures in per_entity.items():
        print(f"    {entity:18} " + ", ".join(figures))
    if "client_secret_days_left" in upload:
        print(f"  client secret expires in {upload['client_secret_days_left']:.0f} days")


def _outcome_lines(outcome, connector: str, said: set[str]) -> tuple[list[str], list[str]]:
    """(why the run is not Processed, other warnings): each cause once. The assets a cause
    stopped are named together; a warning already printed, or quoting a cause already named
    (the client secret's expiry not read for the same reason), is not repeated."""
    from ..sync.outcome import derive_state, not_fetched

    errors, others = {}, []
    for warning in outcome.warnings:
        parsed = not_fetched(warning)
        if parsed:
            errors[parsed[0]] = parsed[1]
        elif (
            warning not in said
            and not _said_by_outcome(warning)
            and not warning.startswith(f"{connector}: {outcome.state}")
        ):  # the outcome, said below
            others.append(warning)
    upload = outcome.materialized.get("upload")
    if upload:
        reasons = [r for r in upload.get("state_reasons", "").split("\n") if r]
    else:  # no delivery: the parts that failed, grouped as the state's reasons would be
        reasons = derive_state(errors, {}, {}).reasons
    causes = set(errors.values())
    others = [w for w in others if not any(cause in w for cause in causes) and not _quotes_said(w, said)]
    return reasons, others


def _quotes_said(warning: str, said: set[str]) -> bool:
    """A warning whose quoted cause, "... (<cause>)", was already printed live: the run log's
    per-asset line for what the pull said as it happened (a delta link refused: full resync)."""
    opening = warning.find(" (")
    quoted = warning[opening + 2 : -1] if opening > 0 and warning.endswith(")") else ""
    return len(quoted) > 20 and any(quoted in message for message in said)


def _print_outcome(outcome, connector: str, pull: str | None, said: set[str], hint) -> None:
    from ..sync.outcome import not_fetched

    reasons, others = _outcome_lines(outcome, connector, said)
    for reason in reasons:
        print(f"  ! {printable_lines(hint(reason), indent='    ')}")
    for warning in others:
        print(f"  warning: {printable_lines(hint(warning), indent='    ')}")
    ended = {
        0: "succeeded: Processed",
        EXIT_PARTIAL: "ended Partially Processed",
        EXIT_CANCELLED: "was cancelled: Failed",
    }.get(exit_code(outcome), "FAILED")
    print(f"Run {outcome.run_id} ({_pull_words(pull, outcome.cycle)}) {ended}.")
    if outcome.failure:
        failure = outcome.failure
        for cause in {parsed[1] for parsed in map(not_fetched, outcome.warnings) if parsed}:
            failure = failure.replace(f": {cause}", " (the cause is above)")  # named with the assets it stopped
        print(f"  reason: {printable_lines(hint(failure), indent='    ')}")


def _pull_of(outcome, full: bool) -> str | None:
    """baseline or delta, as the run chose it; for a run that failed before choosing, what was asked."""
    return outcome.pull or ("baseline" if full else None)


def _cancel(signum, frame) -> None:
    """SIGTERM (a service manager, `kill`) stops a run as Ctrl-C does: it records itself failed,
    releases the connector and commits nothing, instead of dying holding the lease."""
    raise KeyboardInterrupt


def _run_sync(connector, home, full: bool = False, wait: float | None = None) -> int:
    from ..defs.runner import sync

    _progress_to_stdout()
    previous = signal.signal(signal.SIGTERM, _cancel)  # before the first line: whoever reads it may stop us
    try:  # the first line inside: a stop can arrive while it is still being written
        print(f"Syncing {connector.name} from {printable(connector.graph_host)} ...", flush=True)
        outcome = sync(connector, home, full=full, wait=wait)
    except KeyboardInterrupt:  # Ctrl-C: the run recorded itself failed; nothing was committed
        from ..sync.pipeline import INTERRUPTED

        print(f"Cancelled: {INTERRUPTED}.")
        return EXIT_CANCELLED
    finally:
        signal.signal(signal.SIGTERM, previous)
        said, graph_total = _finish_progress()
    _print_figures(outcome, graph_total)
    _print_outcome(
        outcome, connector.name, _pull_of(outcome, full), said, lambda text: _demo_hint(connector, home, text)
    )
    return exit_code(outcome)


def _program(name: str = "entra-pipeline") -> str:
    """How to run our command (or Dagster's, next to it) as this one was run: `.venv/bin/...`
    from the repository, else the path it was started by, else the bare name."""
    import shutil

    started = Path(sys.argv[0])
    if started.name != "entra-pipeline":
        return name
    path = started.absolute().with_name(name)
    found = shutil.which(name)
    if found and Path(found).absolute() == path:  # on PATH: the name is enough
        return name
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def command(home: Path, *words: str, program: str = "entra-pipeline") -> str:
    """A command to print as a next step: `--home` when the home is not the one the command
    finds by itself ($ENTRA_PIPELINE_HOME, else ~/.entra-pipeline), so it works as printed."""
    from ..config import home_folder

    where = [] if home == home_folder(None) else ["--home", shlex.quote(str(home))]
    return " ".join([_program(program), *words, *where])


DEMO_DESCRIPTION = "Embedded Graph tenant simulator"
_SIMULATOR_DOWN = "is the simulator (or the local proxy) running?"


def _is_demo(connector) -> bool:
    return connector.name == "demo" and connector.description == DEMO_DESCRIPTION


def _demo_hint(connector, home: Path, text: str) -> str:
    """For the demo's connector, the command that brings its simulator back."""
    if not _is_demo(connector) or _SIMULATOR_DOWN not in text:
        return text
    return text.replace(_SIMULATOR_DOWN, f"is the demo's simulator running? (`{command(home, 'demo', '--serve')}`)")


def _status_parser(commands: argparse._SubParsersAction) -> None:
    status = commands.add_parser(
        "status",
        help="each connector's state (Registered, Scheduled, Processing, "
        "Processed, Partially Processed, Failed), why, and what is next",
    )
    _home_argument(status)
    status.add_argument("--connector", help="only this connector")
    status.add_argument("--json", action="store_true", help="one JSON object per connector")
    status.set_defaults(func=_status)


def _status(args: argparse.Namespace) -> int:
    import datetime as dt

    from ..config import home_folder, load_connectors
    from ..defs.runner import instance
    from ..store import StoreError, open_store

    home = home_folder(args.home)
    if args.connector and pick_connector(home, args.connector, "status") is None:
        return EXIT_USAGE
    connectors = [c for c in load_connectors(home) if c.name == args.connector or not args.connector]
    _warn_unsafe(home)
    if not connectors:
        print(
            f"No connectors in {home}. Create one with `{command(home, 'connector', 'create')}`.{_demo_elsewhere(home)}"
        )
    now = dt.datetime.now(dt.UTC)
    try:
        store = open_store(home)
    except StoreError as error:
        print(f"entra-pipeline status: {error}", file=sys.stderr)
        return 1
    with instance(home) as dagster_instance:
        for connector in connectors:
            try:
                facts = _status_facts(connector, store, dagster_instance, now)
            except StoreError as error:  # one damaged connector does not hide the others
                facts = {"connector": connector.name, "state": "unknown", "damaged": str(error)}
            if args.json:
                print(json.dumps(facts))
                continue
            facts["reasons"] = [_demo_hint(connector, home, reason) for reason in facts.get("reasons", [])]
            print(_status_text(facts, home))
    return 0


def _demo_elsewhere(home: Path) -> str:
    """`./dev demo` keeps its connector in ./.demo-home: say so to whoever looks for it elsewhere."""
    demo_home = Path.cwd() / ".demo-home"
    if demo_home.resolve() == home or not (demo_home / "connectors.yaml").exists():
        return ""
    return f" The demo's connector is in {demo_home}: `{command(demo_home.resolve(), 'status')}`."


def _status_facts(connector, store, dagster_instance, now) -> dict:
    """Everything `status` shows of one connector, as plain data (the --json form)."""
    from ..graph.secret_expiry import SecretExpiryStore
    from ..sync.cycles import BaselineCycles
    from ..sync.status import current_status
    from .report import last_counts, runs

    status, upcoming = current_status(connector, store, now)
    cycles = BaselineCycles(connector, store, read_only=True)
    cycle = cycles.at(now)
    expiry = SecretExpiryStore(store, connector.name).read()
    warning = expiry.warning(connector.name, now) if expiry else None
    last = next((r for r in runs(dagster_instance, connector, limit=20) if r.pull != "test connection"), None)
    return {
        "connector": connector.name,
        **status.model_dump(mode="json"),
        "reasons": status.reasons + ([warning] if warning else []),
        "holder": _holder(store, connector, store.home),
        "last_run": None
        if last is None
        else {
            "run_id": last.run_id,
            "started": last.started.isoformat() if last.started else None,
            "duration_s": round(last.duration_s, 1) if last.duration_s is not None else None,
            "pull": last.pull,
            "cycle": last.cycle,
            "status": last.status,
        },
        "counts": last_counts(dagster_instance, connector),
        "next_run": upcoming,
        "baseline": connector.baseline,
        "cycle": cycle.key,
        "cycle_baseline_done": cycles.baseline_done(cycle.key),
        "next_baseline": cycle.end.isoformat(),
        "client_secret_expires": expiry.ends.isoformat() if expiry and expiry.ends else None,
        "delta_link_age_hours": _link_ages(store, connector, now),
    }


def _holder(store, connector, home: Path) -> dict | None:
    """The run holding the connector's lease, and what to do about it."""
    held, expired = store.lease_holder(connector.name)
    if held is None:
        return None
    if expired:
        remedy = (
            "its process stopped heartbeating (killed or its machine lost): the next run takes the connector "
            f"over and marks it failed; `{command(home, 'sync', '--connector', connector.name)}` does so now"
        )
    else:
        remedy = (
            "wait for it to finish; to stop it, cancel the run in the Dagster UI (or stop process "
            f"{held.pid} on {held.host}); a run that stops heartbeating loses the connector after {held.ttl:.0f} s"
        )
    return {
        "run_id": held.run_id,
        "launched_by": held.launched_by,
        "host": held.host,
        "pid": held.pid,
        "since": held.acquired_at,
        "heartbeat": held.heartbeat_at,
        "expired": expired,
        "describe": held.describe(),
        "remedy": remedy,
    }


def _link_ages(store, connector, now) -> dict[str, float | str]:
    import datetime as dt

    ages: dict[str, float | str] = {}
    for entity, entry in store.delta_links(connector.name).items():
        try:
            hours = round((now - dt.datetime.fromisoformat(entry["issued_at"])).total_seconds() / 3600, 2)
            ages[entity] = hours if hours > -0.1 else "dated in the future (the next run pulls it in full)"
        except (TypeError, ValueError):
            ages[entity] = "damaged (the next run pulls it in full)"
    return ages


def _status_text(facts: dict, home: Path) -> str:
    # Reasons quote Graph's errors, the holder names a host: every string is shown escaped.
    facts = printable_data(facts)
    if "damaged" in facts:
        return f"{facts['connector']}: state unknown\n  ! {facts['damaged']}"
    lines = [f"{facts['connector']}: {facts['state']} since {facts['since'][:16].replace('T', ' ')} UTC"]
    lines += [f"  ! {reason}" for reason in facts["reasons"]]
    holder = facts["holder"]
    if holder:
        lines.append(f"  held by {holder['describe']}" + (" (expired)" if holder["expired"] else ""))
        lines.append(f"    {holder['remedy']}")
    last = facts["last_run"]
    if last:
        took = f", took {last['duration_s']:.0f} s" if last["duration_s"] is not None else ""
        lines.append(
            f"  last run: {last['pull']} in cycle {last['cycle']} (run {last['run_id']}), started "
            f"{(last['started'] or '-')[:16].replace('T', ' ')} UTC{took} ({last['status'].lower()}; "
            f"`{command(home, 'logs', facts['connector'])}` for its log)"
        )
    for entity, figures in facts["counts"].items():
        lines.append(f"    {entity:22} " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    by_hand = f"none automatic (`{command(home, 'sync', '--connector', facts['connector'])}`, or the Dagster UI)"
    lines.append(f"  next run: {facts['next_run'] or by_hand}")
    done = "baseline done" if facts["cycle_baseline_done"] else "baseline (full) pull due at the next run"
    upcoming = f"; next baseline cycle from {facts['next_baseline'][:10]}"
    lines.append(f"  {facts['baseline']} baseline cycle {facts['cycle']}: {done}{upcoming}")
    if facts["client_secret_expires"]:
        lines.append(f"  client secret expires {facts['client_secret_expires'][:16].replace('T', ' ')} UTC")
    if facts["delta_link_age_hours"]:
        lines.append(
            "  delta links: "
            + ", ".join(
                f"{k} {v:.1f} h old" if isinstance(v, float) else f"{k} {v}"
                for k, v in sorted(facts["delta_link_age_hours"].items())
            )
        )
    return "\n".join(lines)


def _logs_parser(commands: argparse._SubParsersAction) -> None:
    logs = commands.add_parser(
        "logs", help="a connector's log (the spec's Logs tab): what each run fetched, skipped, retried and why"
    )
    _home_argument(logs)
    logs.add_argument("connector", nargs="?", help="the connector (may be left out when there is only one)")
    logs.add_argument("--run", help="this run's log (default: the latest run)")
    logs.add_argument("--runs", type=int, metavar="N", help="list the last N runs instead")
    logs.add_argument("--debug", action="store_true", help="also Dagster's own step events")
    logs.set_defaults(func=_logs)


def _logs(args: argparse.Namespace) -> int:
    from ..config import home_folder
    from ..defs.runner import instance
    from .report import run_log, runs

    home = home_folder(args.home)
    connector = pick_connector(home, args.connector, "logs")
    if connector is None:
        return EXIT_USAGE
    with instance(home) as dagster_instance:
        recent = runs(dagster_instance, connector, limit=args.runs or 1)
        if args.runs:
            print(f"{'RUN':36}  {'STARTED (UTC)':19}  {'TOOK':>9}  {'PULL':15} {'CYCLE':10} STATE")
            for run in recent:
                started = f"{run.started:%Y-%m-%d %H:%M:%S}" if run.started else "not started"
                took = f"{run.duration_s:7.1f} s" if run.duration_s is not None else "        -"
                print(
                    f"{run.run_id}  {started}  {took}  {printable(run.pull):15} {printable(run.cycle):10} "
                    f"{printable(run.state)}"
                )
            return 0
        run_id = args.run or (recent[0].run_id if recent else None)
        if run_id is None:
            print(f"No runs of {connector.name} yet ({command(home, 'sync', '--connector', connector.name)}).")
            return 0
        if dagster_instance.get_run_by_id(run_id) is None:
            print(
                f"entra-pipeline logs: no run {printable(run_id)}; `--runs 20` lists the connector's runs",
                file=sys.stderr,
            )
            return 2
        print(f"Run {run_id}")
        for line in run_log(dagster_instance, run_id, args.debug):
            print(f"{line.at:%Y-%m-%d %H:%M:%S} {line.level:7} {printable_lines(line.message, indent='    ')}")
    return 0


def _inventory_parser(commands: argparse._SubParsersAction) -> None:
    inventory = commands.add_parser("inventory", help="the local inventory (the embedded default destination)")
    sub = inventory.add_subparsers(dest="inventory_command", required=True)
    export = sub.add_parser("export", help="print records, one JSON object per line, as they would be sent")
    _home_argument(export)
    export.add_argument("--connector", help="the connector (may be left out when there is only one)")
    export.add_argument("--entity", required=True, choices=tuple(MAPS))
    export.set_defaults(func=_inventory_export)
    search = sub.add_parser("search", help='search records, e.g. inventory:(source:"Microsoft") status:ACTIVE')
    _home_argument(search)
    search.add_argument(
        "query",
        nargs="?",
        default='inventory:(source:"Microsoft")',
        help="filters: source, name (wildcards *), status, entity, connector, id",
    )
    search.add_argument("--limit", type=int, default=50, help="rows to print (default 50; 0 = all)")
    search.set_defaults(func=_inventory_search)


def _inventory_export(args: argparse.Namespace) -> int:
    from ..config import home_folder
    from ..destinations.local import LocalInventory
    from ..store import open_store

    home = home_folder(args.home)
    connector = pick_connector(home, args.connector, "inventory export")
    if connector is None:
        return EXIT_USAGE

    for record in LocalInventory(open_store(home)).export(connector.name, args.entity):
        print(json_line(record))
    return 0


def _inventory_search(args: argparse.Namespace) -> int:
    from ..config import home_folder
    from ..destinations.local import LocalInventory

    try:
        from ..store import open_store

        rows = LocalInventory(open_store(home_folder(args.home))).search(args.query)
    except ValueError as error:
        print(f"entra-pipeline inventory search: {printable(error)}", file=sys.stderr)
        return 2
    shown = rows if args.limit == 0 else rows[: args.limit]
    width = _name_width()
    print(f"{'CONNECTOR':16} {'ENTITY':18} {'STATUS':9} {'NAME':{width}} ID")
    for row in shown:
        # Names come from the tenant: escaped, so a row stays one line; a long one ends in a marker.
        print(
            f"{printable(row['connector'], 16):16} {printable(row['entity']):18} {printable(row['status'] or '-'):9} "
            f"{printable(row['name'], width):{width}} {printable(row['id'])}"
        )
    print(f"{len(rows)} record(s){'' if len(shown) == len(rows) else f', {len(shown)} shown (--limit 0 for all)'}")
    return 0


# What a search row holds besides the name: connector 16, entity 18, status 9, an id of 36
# (GUIDs), the spaces between them and room for the marker of a cut name ("... [N more characters]").
_SEARCH_FIXED = 16 + 18 + 9 + 36 + 4 + 28
SEARCH_NAME_WIDTH = 40  # without a terminal: a stable column for scripts reading the output


def _name_width() -> int:
    """Characters of a name shown before the marker: what the terminal leaves after the other
    columns (at least 40); 40 when the output is not a terminal."""
    import shutil

    if not sys.stdout.isatty():
        return SEARCH_NAME_WIDTH
    return max(SEARCH_NAME_WIDTH, shutil.get_terminal_size().columns - _SEARCH_FIXED)


def pick_connector(home: Path, name: str | None, what: str):
    """The connector named, or the only one when none is named. When there is no such
    connector, says which exist in which home and returns None."""
    from ..config import CONNECTORS_FILE, load_connectors

    connectors = load_connectors(home)
    if name is None and len(connectors) == 1:
        return connectors[0]
    found = next((c for c in connectors if c.name == name), None)
    if found is not None:
        return found
    known = ", ".join(c.name for c in connectors)
    if name is None:
        problem = (
            f"name the connector: {home / CONNECTORS_FILE} has {known}"
            if connectors
            else f"no connectors in {home / CONNECTORS_FILE} yet: create one with `{command(home, 'connector', 'create')}`"
        )
    else:
        problem = f"no connector named {printable(name)!r} in {home / CONNECTORS_FILE}; " + (
            f"configured: {known}"
            if connectors
            else f"none yet: create one with `{command(home, 'connector', 'create')}`"
        )
    print(f"entra-pipeline {what}: {problem}", file=sys.stderr)
    return None


def _demo_parser(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser(
        "demo",
        help="the main job on the embedded simulator: no cloud account needed",
        description="Start the embedded Graph simulator, register the connector 'demo' for it and run a full sync. "
        "Run it again on the same home as often as you like: the simulator comes back on the port the "
        "connector knows (or the connector is registered again for a new one, which is said). "
        "`demo --serve` serves the demo's simulator in the foreground, so `sync`, the Dagster UI and its "
        "sensors work after the demo.",
        epilog=EXIT_CODES_HELP + " (docs/operator.md)",
    )
    demo.add_argument(
        "--home",
        help="home folder (default: $ENTRA_PIPELINE_HOME, else ~/.entra-pipeline; "
        "`./dev demo` passes --home .demo-home). Every command the demo prints names "
        "it with --home unless it is that default.",
    )
    demo.add_argument("--users", type=int, default=1000, help="users in the simulated tenant (default 1000)")
    demo.add_argument(
        "--port",
        type=int,
        default=0,
        help="port on 127.0.0.1 (default: the one the demo used last on this home, else any free one)",
    )
    demo.add_argument(
        "--serve",
        action="store_true",
        help="serve the demo's simulator where the connector expects it, until Ctrl+C; no sync",
    )
    demo.set_defaults(func=_demo)


DEMO_FILE = "demo.json"  # in <home>/simulator: the port and tenant the connector 'demo' was registered for


def _demo_settings(home: Path) -> dict:
    import contextlib

    with contextlib.suppress(OSError, ValueError):
        saved = json.loads((home / "simulator" / DEMO_FILE).read_text())
        if isinstance(saved, dict) and isinstance(saved.get("port"), int) and isinstance(saved.get("users"), int):
            return saved
    return {}


def _save_demo_settings(home: Path, port: int, users: int) -> None:
    path = home / "simulator" / DEMO_FILE
    path.write_text(json.dumps({"port": port, "users": users}) + "\n")
    path.chmod(0o600)


def _demo_simulator(home: Path, users: int, port: int):
    from ..simulator import Simulator, SimulatorConfig

    # One state folder per home: the CA bundle the connector names stays at the same path.
    return Simulator(SimulatorConfig(users=users, port=port, state_dir=home / "simulator"))


def _start_demo_simulator(home: Path, users: int, wanted: int):
    """The simulator on the port the connector knows if it is free, else on any free port."""
    simulator = _demo_simulator(home, users, wanted)
    try:
        return simulator.start()
    except OSError as error:
        if not wanted:
            raise
        print(
            f"Port {wanted} is taken ({error.strerror or 'in use'}; another `demo --serve`?): "
            "the simulator takes a free port and the connector 'demo' is registered again for it."
        )
        return _demo_simulator(home, users, 0).start()


def _demo(args: argparse.Namespace) -> int:
    from ..config import Connector, SecretBox, home_folder, load_connectors, save_connector
    from ..graph.connection_test import run_checks

    home = home_folder(args.home)
    saved = _demo_settings(home)
    if args.serve:
        return _serve_demo(home, saved)
    print(f"Starting the embedded Graph simulator ({args.users} users) ...", flush=True)
    sim = _start_demo_simulator(home, args.users, args.port or saved.get("port", 0))
    try:
        info = sim.info
        _save_demo_settings(home, sim.port, args.users)
        before = next((c for c in load_connectors(home) if c.name == "demo"), None)
        connector = Connector(
            name="demo",
            description=DEMO_DESCRIPTION,
            tenant_id=info.tenant_id,
            client_id=info.client_id,
            client_secret=SecretBox(home).encrypt(info.client_secret),
            authority_host=info.authority_host,
            graph_endpoint=info.graph_endpoint,
            ca_bundle=info.ca_bundle,
            asset_types="identities_with_security_posture",
        )
        save_connector(home, connector, replace=True)
        if before is None:
            print(f"Registered connector 'demo' in {home / 'connectors.yaml'} (simulator on {info.graph_endpoint})")
        elif before.graph_host != connector.graph_host:
            print(
                f"Registered connector 'demo' again in {home / 'connectors.yaml'}: its simulator moved from "
                f"{printable(before.graph_host)} to {info.graph_endpoint}"
            )
        else:
            print(f"Connector 'demo' in {home / 'connectors.yaml'}: simulator back on {info.graph_endpoint}")
        for result in run_checks(connector, home):
            print("  " + printable_lines(result.line()))
        # Always a full pull: the demo shows the whole tenant, whatever an earlier demo left.
        status = _run_sync(connector, home, full=True)
    finally:
        sim.stop()
    print(_demo_next_steps(home))
    return status


def _demo_next_steps(home: Path) -> str:
    from ..defs.runner import dagster_home
    from ..store import open_store

    # Dagster 1.13 notes on every start that `dagster dev` is superseded by `dg dev`, which needs a
    # package and project settings we do not have (docs/schedules.md, "In the Dagster UI").
    quiet = shlex.quote("ignore:Function `dev_command` is superseded")
    ui = (
        f"DAGSTER_HOME={shlex.quote(str(dagster_home(home)))} ENTRA_PIPELINE_HOME={shlex.quote(str(home))} "
        f"PYTHONWARNINGS={quiet} {_program('dagster')} dev -w workspace.yaml"
    )
    query = shlex.quote('inventory:(source:"Microsoft") entity:roles')
    return "\n".join(
        [
            f"\nLocal inventory: {open_store(home).describe()} (table records)",
            f"  {command(home, 'inventory', 'search', query)}",
            f"  {command(home, 'inventory', 'export', '--connector', 'demo', '--entity', 'users')}",
            "The connector's state, its runs and their log:",
            f"  {command(home, 'status')}",
            f"  {command(home, 'logs', 'demo')}",
            "The simulator stopped with the demo; to sync again, or for the Dagster UI and its sensors, serve it in "
            "another terminal (Ctrl+C stops it):",
            f"  {command(home, 'demo', '--serve')}",
            f"  {command(home, 'sync', '--connector', 'demo')}",
            "Open the Dagster UI on this home (runs and assets above are there):",
            f"  {ui}",
        ]
    )


def _serve_demo(home: Path, saved: dict) -> int:
    if not saved:
        print(
            f"entra-pipeline demo --serve: no demo on {home} yet: run `{command(home, 'demo')}` first", file=sys.stderr
        )
        return EXIT_USAGE
    sim = _demo_simulator(home, saved["users"], saved["port"])

    def announce(simulator) -> None:
        print(
            f"Serving the demo's simulator ({saved['users']} users) on {simulator.info.graph_endpoint}, where the "
            f"connector 'demo' in {home} expects it. Ctrl+C stops it. In another terminal:\n"
            f"  {command(home, 'sync', '--connector', 'demo')}",
            flush=True,
        )

    try:
        sim.serve_forever(on_ready=announce)
    except OSError as error:
        print(
            f"entra-pipeline demo --serve: port {saved['port']} is taken ({error.strerror or 'in use'}): is "
            f"`demo --serve` already running? Stop it, or run `{command(home, 'demo')}` to move the demo to a "
            "free port",
            file=sys.stderr,
        )
        return EXIT_FAILED
    finally:
        sim.stop()
    return EXIT_PROCESSED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="entra-pipeline", description="Microsoft Entra ID -> Qualys CSAM/ETM identity connector"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _demo_parser(commands)
    cli_connectors.add_parser(commands)
    _test_connection_parser(commands)
    _sync_parser(commands)
    _status_parser(commands)
    _logs_parser(commands)
    _inventory_parser(commands)
    cli_store.add_parser(commands)
    _simulator_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    from ..config import ConfigError
    from ..store import StoreError

    os.umask(0o077)  # everything this process writes (state, Parquet, Dagster's logs) is owner-only
    redact.install()  # and every log line masks the secrets this process holds
    args = build_parser().parse_args(argv)
    # azure-identity logs each refused token request in full at WARNING; our messages already
    # name the AADSTS error and its remedy.
    logging.getLogger("azure").setLevel(logging.ERROR)
    # A stopped run cancels connection attempts in flight; the HTTP stack's coroutines for them
    # are then reported "never awaited" as they are collected: nothing the operator can act on.
    warnings.filterwarnings("ignore", r"coroutine .* was never awaited", RuntimeWarning)
    try:
        return args.func(args)
    except ConfigError as error:  # may quote connectors.yaml
        print(f"entra-pipeline: {printable_lines(error)}", file=sys.stderr)
        return EXIT_USAGE
    except StoreError as error:  # may quote a damaged row
        print(f"entra-pipeline: {printable_lines(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C outside a run (a run says INTERRUPTED and exits the same)
        print("entra-pipeline: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except BrokenPipeError:  # `inventory export | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
