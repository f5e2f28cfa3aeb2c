"""The `entra-pipeline` command."""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import sys
from pathlib import Path

from . import cli_connectors, cli_store, redact
from .cli_connectors import home_argument as _home_argument
from .progress import LiveLine
from .qualys.maps import MAPS
from .terminal import json_line, printable, printable_data, printable_lines


def _permissions(text: str) -> tuple[str, ...]:
    return tuple(p for p in text.replace(",", " ").split() if p)


def _simulator_parser(commands: argparse._SubParsersAction) -> None:
    simulator = commands.add_parser("simulator", help="the embedded Microsoft Graph tenant simulator")
    sim_commands = simulator.add_subparsers(dest="sim_command", required=True)
    serve = sim_commands.add_parser(
        "serve", help="serve a simulated Entra tenant (identity platform + Graph v1.0) over HTTPS",
        description="Serve a deterministic, wire-faithful Entra ID tenant on https://127.0.0.1:PORT. "
                    "Prints the authority URL, Graph endpoint, tenant id, a working client id and secret, and the "
                    "CA certificate to trust.")
    serve.add_argument("--port", type=int, default=8443, help="port on 127.0.0.1 (0 = any free port; default 8443)")
    serve.add_argument("--users", type=int, default=1000, help="number of users (default 1000)")
    serve.add_argument("--seed", type=int, default=7, help="generation seed: same seed, same tenant (default 7)")
    serve.add_argument("--tenant-size", choices=("S", "M", "L"),
                       help="throttling class: S 3,500 / M 5,000 / L 8,000 RU per 10 s (default: from --users)")
    serve.add_argument("--groups", type=int, help="number of groups (default users/10, at least 12)")
    serve.add_argument("--applications", type=int, help="number of applications (default users/1000, at least 8)")
    serve.add_argument("--profile", choices=("classic", "realistic"), default="classic",
                       help="tenant shape: classic (default) or realistic (long-tailed groups, ~620 first-party "
                            "service principals, users/30 apps; see docs/simulator.md)")
    serve.add_argument("--latency-ms", type=float, default=0.0, help="added latency per request (default 0)")
    serve.add_argument("--granted-permissions", type=_permissions,
                       help="application permissions granted to the connector app, comma-separated "
                            "(default: the spec's list)")
    serve.add_argument("--faults", action="append", default=[],
                       help="fault rules, comma-separated, e.g. '503@0.05,reset@#12,forbidden=applications' "
                            "(see docs/simulator.md)")
    serve.add_argument("--no-throttling", action="store_true", help="count resource units but never answer 429")
    serve.add_argument("--token-lifetime", type=int, default=3599, help="access token lifetime in seconds")
    serve.add_argument("--secret-expires-in-days", type=float, default=365.0,
                       help="days until the connector app's client secret expires (AADSTS7000222 after)")
    serve.add_argument("--state-dir", type=Path, help="where to write the CA and server certificates "
                                                      "(default: a temporary folder)")
    serve.add_argument("--json", action="store_true", help="print the connection facts as one JSON line first")
    serve.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from .simulator import Simulator, SimulatorConfig
    from .simulator.catalog import SPEC_PERMISSIONS

    faults = tuple(spec for group in args.faults for spec in group.split(",") if spec.strip())
    try:
        config = SimulatorConfig(
            users=args.users, seed=args.seed, tenant_size=args.tenant_size, groups=args.groups,
            applications=args.applications, profile=args.profile, latency_ms=args.latency_ms,
            granted_permissions=args.granted_permissions if args.granted_permissions is not None else SPEC_PERMISSIONS,
            faults=faults, throttling=not args.no_throttling, token_lifetime=args.token_lifetime,
            secret_expires_in_days=args.secret_expires_in_days, port=args.port, state_dir=args.state_dir,
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
        print(f"entra-pipeline simulator serve: cannot listen on 127.0.0.1:{args.port}: {error.strerror}",
              file=sys.stderr)
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
    from .config import find_connector, home_folder
    from .graph.connection_test import run_checks

    home = home_folder(args.home)
    connector = find_connector(home, args.connector)
    _warn_unsafe(home)
    print(f"Test Connection: {connector.name} (tenant {printable(connector.tenant_id)})")
    results = run_checks(connector, home)
    for result in results:
        print("  " + printable_lines(result.line()))
    passed = all(r.passed for r in results)
    print("All five checks passed." if passed else "Test Connection failed.")
    if passed:
        from .graph.secret_expiry import secret_expiry_note

        expiry, warning = secret_expiry_note(connector, home)
        if warning:
            print(f"  Warning: {printable(warning)}")
        elif expiry and expiry.ends:
            print(f"  Client secret valid until {expiry.ends:%Y-%m-%d %H:%M} UTC ({printable(expiry.detail)}).")
        elif expiry:
            print(f"  Client secret expiry unknown: {printable(expiry.detail)}.")
    return 0 if passed else 1


def _sync_parser(commands: argparse._SubParsersAction) -> None:
    sync = commands.add_parser("sync", help="run a connector's pull now (a Dagster materialization)")
    _home_argument(sync)
    sync.add_argument("--connector", required=True)
    sync.add_argument("--full", action="store_true",
                      help="full pull of users and groups (otherwise delta from the last committed links); "
                           "also what repairs damaged state")
    sync.add_argument("--wait", type=float, metavar="SECONDS",
                      help="how long to wait while another run holds the connector (default "
                           "$ENTRA_PIPELINE_LEASE_WAIT, else 180)")
    sync.set_defaults(func=_sync)


def _sync(args: argparse.Namespace) -> int:
    from .config import find_connector, home_folder

    home = home_folder(args.home)
    connector = find_connector(home, args.connector)
    _warn_unsafe(home)
    return _run_sync(connector, home, full=args.full, wait=args.wait)


def _warn_unsafe(home: Path) -> None:
    from .permissions import unsafe_permissions

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
    errors); the record other handlers and Dagster's run log get is left as it was."""

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "progress", None) is None:
            shown = copy.copy(record)
            shown.msg, shown.args = printable_lines(record.getMessage(), indent="     "), None
            record = shown
        super().emit(record)


def _finish_progress() -> None:
    import logging

    from .progress import LiveLine

    for handler in logging.getLogger("entra_pipeline").handlers:
        if isinstance(handler, LiveLine):
            handler.finish()


def _run_sync(connector, home, full: bool = False, wait: float | None = None) -> int:
    from .report import ENTITY_FIGURES
    from .runner import sync

    _progress_to_stdout()
    print(f"Syncing {connector.name} from {printable(connector.graph_host)} ...", flush=True)
    outcome = sync(connector, home, full=full, wait=wait)
    _finish_progress()
    for name, metadata in outcome.materialized.items():
        if name.startswith("raw/"):
            mode = f"  {metadata['pull_mode']} ({metadata['changes_in_round']} items)" if "pull_mode" in metadata else ""
            print(f"  {name:32} {metadata.get('count', 0):>9} objects  {metadata.get('graph_requests', 0):>6} requests  "
                  f"{metadata.get('resource_units', 0):>6} RU  {metadata.get('throttled_429', 0):>4} x 429{mode}")
        elif name.startswith("records/"):
            print(f"  {name:32} {metadata.get('count', 0):>9} records  {metadata.get('rejected', 0):>6} rejected")
    upload = outcome.materialized.get("upload")
    if upload:
        print(f"  upload to {printable(upload['destination'])}: {upload['entities_delivered']} entities delivered, "
              f"{upload['entities_skipped']} held back")
        per_entity: dict[str, list[str]] = {}
        for key, value in upload.items():
            entity, _, what = key.rpartition("_")
            if entity and what in ENTITY_FIGURES:
                per_entity.setdefault(entity, []).append(f"{what} {value}")
        for entity, figures in per_entity.items():
            print(f"    {entity:18} " + ", ".join(figures))
        if "client_secret_days_left" in upload:
            print(f"  client secret expires in {upload['client_secret_days_left']:.0f} days")
    for warning in outcome.warnings:
        print(f"  warning: {printable_lines(warning, indent='    ')}")
    print(f"Run {outcome.run_id} (baseline cycle {outcome.cycle}) {'succeeded' if outcome.success else 'FAILED'}: "
          f"{printable(outcome.state)}.")
    if outcome.failure:
        print(f"  reason: {printable_lines(outcome.failure, indent='    ')}")
    return 0 if outcome.success else 1


def _status_parser(commands: argparse._SubParsersAction) -> None:
    status = commands.add_parser("status", help="each connector's state (Registered, Scheduled, Processing, "
                                                "Processed, Partially Processed, Failed), why, and what is next")
    _home_argument(status)
    status.add_argument("--connector", help="only this connector")
    status.add_argument("--json", action="store_true", help="one JSON object per connector")
    status.set_defaults(func=_status)


def _status(args: argparse.Namespace) -> int:
    import datetime as dt

    from .config import find_connector, home_folder, load_connectors
    from .runner import instance

    from .store import StoreError, open_store

    home = home_folder(args.home)
    connectors = [find_connector(home, args.connector)] if args.connector else load_connectors(home)
    _warn_unsafe(home)
    if not connectors:
        print(f"No connectors in {home}. Create one with `entra-pipeline connector create`.")
    now = dt.datetime.now(dt.timezone.utc)
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
            print(json.dumps(facts) if args.json else _status_text(facts))
    return 0


def _status_facts(connector, store, dagster_instance, now) -> dict:
    """Everything `status` shows of one connector, as plain data (the --json form)."""
    from .cycles import BaselineCycles
    from .graph.secret_expiry import SecretExpiryStore
    from .report import last_counts, runs
    from .status import current_status

    status, upcoming = current_status(connector, store, now)
    cycles = BaselineCycles(connector, store, read_only=True)
    cycle = cycles.at(now)
    expiry = SecretExpiryStore(store, connector.name).read()
    warning = expiry.warning(connector.name, now) if expiry else None
    last = next((r for r in runs(dagster_instance, connector, limit=20) if r.pull != "test connection"), None)
    return {
        "connector": connector.name, **status.model_dump(mode="json"),
        "reasons": status.reasons + ([warning] if warning else []),
        "holder": _holder(store, connector),
        "last_run": None if last is None else {
            "run_id": last.run_id, "started": last.started.isoformat() if last.started else None,
            "duration_s": round(last.duration_s, 1) if last.duration_s is not None else None,
            "pull": last.pull, "cycle": last.cycle, "status": last.status},
        "counts": last_counts(dagster_instance, connector), "next_run": upcoming,
        "baseline": connector.baseline, "cycle": cycle.key, "cycle_baseline_done": cycles.baseline_done(cycle.key),
        "next_baseline": cycle.end.isoformat(),
        "client_secret_expires": expiry.ends.isoformat() if expiry and expiry.ends else None,
        "delta_link_age_hours": _link_ages(store, connector, now),
    }


def _holder(store, connector) -> dict | None:
    """The run holding the connector's lease, and what to do about it."""
    held, expired = store.lease_holder(connector.name)
    if held is None:
        return None
    if expired:
        remedy = ("its process stopped heartbeating (killed or its machine lost): the next run takes the connector "
                  f"over and marks it failed; `entra-pipeline sync --connector {connector.name}` does so now")
    else:
        remedy = ("wait for it to finish; to stop it, cancel the run in the Dagster UI (or stop process "
                  f"{held.pid} on {held.host}); a run that stops heartbeating loses the connector after {held.ttl:.0f} s")
    return {"run_id": held.run_id, "launched_by": held.launched_by, "host": held.host, "pid": held.pid,
            "since": held.acquired_at, "heartbeat": held.heartbeat_at, "expired": expired,
            "describe": held.describe(), "remedy": remedy}


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


def _status_text(facts: dict) -> str:
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
        lines.append(f"  last run: {last['pull']} in cycle {last['cycle']} (run {last['run_id']}), started "
                     f"{(last['started'] or '-')[:16].replace('T', ' ')} UTC{took} ({last['status'].lower()}; "
                     f"`entra-pipeline logs {facts['connector']}` for its log)")
    for entity, figures in facts["counts"].items():
        lines.append(f"    {entity:22} " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    lines.append(f"  next run: {facts['next_run'] or 'none automatic (entra-pipeline sync, or the Dagster UI)'}")
    done = "baseline done" if facts["cycle_baseline_done"] else "baseline (full) pull due at the next run"
    upcoming = f"; next baseline cycle from {facts['next_baseline'][:10]}"
    lines.append(f"  {facts['baseline']} baseline cycle {facts['cycle']}: {done}{upcoming}")
    if facts["client_secret_expires"]:
        lines.append(f"  client secret expires {facts['client_secret_expires'][:16].replace('T', ' ')} UTC")
    if facts["delta_link_age_hours"]:
        lines.append("  delta links: " + ", ".join(f"{k} {v:.1f} h old" if isinstance(v, float) else f"{k} {v}"
                                                    for k, v in sorted(facts["delta_link_age_hours"].items())))
    return "\n".join(lines)


def _logs_parser(commands: argparse._SubParsersAction) -> None:
    logs = commands.add_parser("logs", help="a connector's log (the spec's Logs tab): what each run fetched, "
                                            "skipped, retried and why")
    _home_argument(logs)
    logs.add_argument("connector")
    logs.add_argument("--run", help="this run's log (default: the latest run)")
    logs.add_argument("--runs", type=int, metavar="N", help="list the last N runs instead")
    logs.add_argument("--debug", action="store_true", help="also Dagster's own step events")
    logs.set_defaults(func=_logs)


def _logs(args: argparse.Namespace) -> int:
    from .config import find_connector, home_folder
    from .report import run_log, runs
    from .runner import instance

    home = home_folder(args.home)
    connector = find_connector(home, args.connector)
    with instance(home) as dagster_instance:
        recent = runs(dagster_instance, connector, limit=args.runs or 1)
        if args.runs:
            for run in recent:
                started = f"{run.started:%Y-%m-%d %H:%M:%S}" if run.started else "not started"
                took = f"{run.duration_s:7.1f} s" if run.duration_s is not None else "        -"
                print(f"{run.run_id}  {started}  {took}  {printable(run.pull):15} {printable(run.cycle):10} "
                      f"{printable(run.state)}")
            return 0
        run_id = args.run or (recent[0].run_id if recent else None)
        if run_id is None:
            print(f"No runs of {connector.name} yet (entra-pipeline sync --connector {connector.name}).")
            return 0
        if dagster_instance.get_run_by_id(run_id) is None:
            print(f"entra-pipeline logs: no run {printable(run_id)}; `--runs 20` lists the connector's runs",
                  file=sys.stderr)
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
    export.add_argument("--connector", required=True)
    export.add_argument("--entity", required=True, choices=tuple(MAPS))
    export.set_defaults(func=_inventory_export)
    search = sub.add_parser("search", help='search records, e.g. inventory:(source:"Microsoft") status:ACTIVE')
    _home_argument(search)
    search.add_argument("query", nargs="?", default='inventory:(source:"Microsoft")',
                        help='filters: source, name (wildcards *), status, entity, connector, id')
    search.add_argument("--limit", type=int, default=50, help="rows to print (default 50; 0 = all)")
    search.set_defaults(func=_inventory_search)


def _inventory_export(args: argparse.Namespace) -> int:
    from .config import find_connector, home_folder
    from .qualys.inventory import LocalInventory

    home = home_folder(args.home)
    connector = find_connector(home, args.connector)
    from .store import open_store

    for record in LocalInventory(open_store(home)).export(connector.name, args.entity):
        print(json_line(record))
    return 0


def _inventory_search(args: argparse.Namespace) -> int:
    from .config import home_folder
    from .qualys.inventory import LocalInventory

    try:
        from .store import open_store

        rows = LocalInventory(open_store(home_folder(args.home))).search(args.query)
    except ValueError as error:
        print(f"entra-pipeline inventory search: {printable(error)}", file=sys.stderr)
        return 2
    shown = rows if args.limit == 0 else rows[: args.limit]
    print(f"{'CONNECTOR':16} {'ENTITY':18} {'STATUS':9} {'NAME':40} ID")
    for row in shown:
        # Names come from the tenant: escaped, so a row stays one line; a long one ends in a marker.
        print(f"{printable(row['connector'], 16):16} {printable(row['entity']):18} {printable(row['status'] or '-'):9} "
              f"{printable(row['name'], 40):40} {printable(row['id'])}")
    print(f"{len(rows)} record(s){'' if len(shown) == len(rows) else f', {len(shown)} shown (--limit 0 for all)'}")
    return 0


def _demo_parser(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser("demo", help="the main job on the embedded simulator: no cloud account needed")
    _home_argument(demo)
    demo.add_argument("--users", type=int, default=1000)
    demo.add_argument("--port", type=int, default=0)
    demo.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from .config import Connector, SecretBox, home_folder, save_connector
    from .graph.connection_test import run_checks
    from .runner import dagster_home
    from .simulator import Simulator, SimulatorConfig

    home = home_folder(args.home)
    print(f"Starting the embedded Graph simulator ({args.users} users) ...", flush=True)
    with Simulator(SimulatorConfig(users=args.users, port=args.port, state_dir=home / "simulator")) as sim:
        info = sim.info
        connector = Connector(name="demo", description="Embedded Graph tenant simulator", tenant_id=info.tenant_id,
                              client_id=info.client_id, client_secret=SecretBox(home).encrypt(info.client_secret),
                              authority_host=info.authority_host, graph_endpoint=info.graph_endpoint,
                              ca_bundle=info.ca_bundle, asset_types="identities_with_security_posture")
        save_connector(home, connector, replace=True)
        print(f"Registered connector 'demo' in {home / 'connectors.yaml'}")
        for result in run_checks(connector, home):
            print("  " + printable_lines(result.line()))
        status = _run_sync(connector, home)
    from .store import open_store

    print(f"\nLocal inventory: {open_store(home).describe()} (table records)\n"
          f"  .venv/bin/entra-pipeline inventory search --home {home} 'inventory:(source:\"Microsoft\") entity:roles'\n"
          f"  .venv/bin/entra-pipeline inventory export --home {home} --connector demo --entity users\n"
          "Open the Dagster UI on this home (runs and assets above are there):\n"
          f"  DAGSTER_HOME={dagster_home(home)} ENTRA_PIPELINE_HOME={home} .venv/bin/dagster dev -w workspace.yaml")
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="entra-pipeline",
                                     description="Microsoft Entra ID -> Qualys CSAM/ETM identity connector")
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
    from .config import ConfigError
    from .store import StoreError

    os.umask(0o077)  # everything this process writes (state, Parquet, Dagster's logs) is owner-only
    redact.install()  # and every log line masks the secrets this process holds
    args = build_parser().parse_args(argv)
    # azure-identity logs each refused token request in full at WARNING; our messages already
    # name the AADSTS error and its remedy.
    logging.getLogger("azure").setLevel(logging.ERROR)
    try:
        return args.func(args)
    except ConfigError as error:  # may quote connectors.yaml
        print(f"entra-pipeline: {printable_lines(error)}", file=sys.stderr)
        return 2
    except StoreError as error:  # may quote a damaged row
        print(f"entra-pipeline: {printable_lines(error)}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `inventory export | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
