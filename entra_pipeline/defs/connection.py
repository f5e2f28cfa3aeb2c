"""Test Connection as a Dagster job, so the UI can run the spec's five checks."""

import dagster as dg

from ..config import Connector
from ..graph.connection_test import run_checks
from ..graph.secret_expiry import secret_expiry_note
from .resources import HomeResource


def test_connection_job(connector: Connector) -> dg.JobDefinition:
    @dg.op(
        name=f"{connector.dagster_name}__connection_checks",
        description="Network Reachability, TLS Handshake, Authentication Credential Check, "
        "Authorization Scope Check, Data Fetch (the spec's Test Connection).",
    )
    def check(context: dg.OpExecutionContext, home: HomeResource) -> None:
        results = run_checks(connector, home.folder())
        for result in results:
            (context.log.info if result.passed else context.log.error)(result.line())
        context.add_output_metadata({r.name: ("passed" if r.passed else f"failed: {r.detail}") for r in results})
        failed = [r for r in results if not r.passed]
        if failed:
            raise dg.Failure(f"Test Connection failed: {failed[0].name}", description=failed[0].remedy)
        expiry, warning = secret_expiry_note(connector, home.folder())
        if warning:
            context.log.warning(warning)
        elif expiry and expiry.ends:
            context.log.info(f"client secret valid until {expiry.ends:%Y-%m-%d %H:%M} UTC ({expiry.detail})")

    @dg.job(name=f"{connector.dagster_name}__test_connection", tags={"entra/connector": connector.dagster_name})
    def job() -> None:
        check()

    return job
