"""The `entra-pipeline` command."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


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
            applications=args.applications, latency_ms=args.latency_ms,
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="entra-pipeline",
                                     description="Microsoft Entra ID -> Qualys CSAM/ETM identity connector")
    commands = parser.add_subparsers(dest="command", required=True)
    _simulator_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
