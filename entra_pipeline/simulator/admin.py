"""The /_sim admin API: ground truth, counters, the simulated clock, faults, delta resets and
mutations of the tenant while it serves. Loopback only and unauthenticated: it is a test
instrument, not part of Graph."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from .faults import FaultSpecError
from .http import Request, Response, json_bytes
from .tenant import SimulatorError

if TYPE_CHECKING:
    from .server import Simulator

Handler = Callable[["Simulator", Request, tuple[str, ...], dict], object]
_ROUTES: list[tuple[str, re.Pattern, Handler]] = []


def route(method: str, pattern: str):
    def register(handler: Handler) -> Handler:
        _ROUTES.append((method, re.compile("^/_sim" + pattern + "$"), handler))
        return handler

    return register


def respond(sim: Simulator, request: Request) -> Response:
    try:
        body = json.loads(request.body) if request.body else {}
    except ValueError:  # not JSON, or not UTF-8
        return _reply(400, {"error": "request body is not JSON"})
    for method, pattern, handler in _ROUTES:
        found = pattern.match(request.path)
        if found and method == request.method:
            try:
                return _reply(200, handler(sim, request, found.groups(), body))
            except (SimulatorError, FaultSpecError, KeyError, TypeError, ValueError) as error:
                return _reply(400, {"error": str(error)})
    return _reply(404, {"error": f"no admin route {request.method} {request.path}"})


def _reply(status: int, payload: object) -> Response:
    return Response(status, json_bytes(payload), {"Content-Type": "application/json"})


@route("GET", "/info")
def _info(sim, request, params, body):
    return sim.info.as_dict()


@route("GET", "/truth")
def _truth(sim, request, params, body):
    return sim.truth()


@route("GET", "/stats")
def _stats(sim, request, params, body):
    return sim.stats()


@route("POST", "/stats/reset")
def _stats_reset(sim, request, params, body):
    sim.reset_stats()
    return {"reset": True}


@route("POST", "/clock")
def _clock(sim, request, params, body):
    sim.advance_clock(float(body.get("advance_seconds", 0)))
    return {"now": sim.now().isoformat()}


@route("GET", "/faults")
def _faults(sim, request, params, body):
    return [rule.to_dict() for rule in sim.faults.rules]


@route("POST", "/faults")
def _add_fault(sim, request, params, body):
    return sim.faults.add(body["spec"]).to_dict()


@route("DELETE", "/faults")
def _clear_faults(sim, request, params, body):
    sim.faults.clear()
    return []


@route("POST", "/delta/reset")
def _delta_reset(sim, request, params, body):
    sim.reset_delta(body["entity"])
    return {"reset": body["entity"]}


@route("POST", "/tokens/expire")
def _expire_tokens(sim, request, params, body):
    sim.expire_tokens()
    return {"expired": True}


@route("POST", "/app")
def _app(sim, request, params, body):
    return sim.configure_app(
        granted_permissions=body.get("granted_permissions"),
        secret_expires_in_seconds=body.get("secret_expires_in_seconds"),
        token_lifetime=body.get("token_lifetime"),
    )


# Graph refuses writes past its own limits (displayName: 256 characters for users and groups);
# the admin API enforces none of them, so that a test can serve what Graph would never store
# (a 1 MB name, lone surrogates). Bodies are bounded only by the server's 16 MiB. `"_unchecked":
# true` is accepted and dropped: it states that intent, and there is nothing to switch off.
@route("POST", "/(users|groups)")
def _create(sim, request, params, body):
    body.pop("_unchecked", None)
    return (sim.tenant.create_user if params[0] == "users" else sim.tenant.create_group)(**body)


@route("PATCH", "/(users|groups)/([^/]+)")
def _update(sim, request, params, body):
    body.pop("_unchecked", None)
    return (sim.tenant.update_user if params[0] == "users" else sim.tenant.update_group)(params[1], **body)


@route("DELETE", "/(users|groups)/([^/]+)")
def _delete(sim, request, params, body):
    if request.query.get("hard", "").lower() == "true":
        sim.tenant.hard_delete(params[1])
    else:
        sim.tenant.soft_delete(params[1])
    return {"deleted": params[1]}


@route("DELETE", "/(servicePrincipals|directoryRoles|administrativeUnits)/([^/]+)")
def _delete_other(sim, request, params, body):
    {
        "servicePrincipals": sim.tenant.delete_service_principal,
        "directoryRoles": sim.tenant.delete_directory_role,
        "administrativeUnits": sim.tenant.delete_administrative_unit,
    }[params[0]](params[1])
    return {"deleted": params[1]}


@route("POST", "/(users|groups)/([^/]+)/restore")
def _restore(sim, request, params, body):
    return sim.tenant.restore(params[1])


@route("POST", "/administrativeUnits")
def _create_unit(sim, request, params, body):
    return sim.tenant.create_administrative_unit(**body)


@route("PATCH", "/administrativeUnits/([^/]+)")
def _update_unit(sim, request, params, body):
    return sim.tenant.update_administrative_unit(params[0], **body)


@route("POST", "/directoryRoles")
def _activate_role(sim, request, params, body):
    return dict(sim.tenant.activate_directory_role(body["roleTemplateId"]))


@route("PATCH", "/directoryRoles/([^/]+)")
def _update_directory_role(sim, request, params, body):
    return sim.tenant.update_directory_role(params[0], **body)


@route("POST", "/(?:groups|directoryRoles|administrativeUnits)/([^/]+)/members")
def _add_member(sim, request, params, body):
    sim.tenant.add_member(params[0], body["id"])
    return {"added": body["id"]}


@route("DELETE", "/(?:groups|directoryRoles|administrativeUnits)/([^/]+)/members/([^/]+)")
def _remove_member(sim, request, params, body):
    sim.tenant.remove_member(params[0], params[1])
    return {"removed": params[1]}


@route("POST", "/roleDefinitions")
def _create_role(sim, request, params, body):
    return sim.tenant.create_role_definition(**body)


@route("PATCH", "/roleDefinitions/([^/]+)")
def _update_role(sim, request, params, body):
    return sim.tenant.update_role_definition(params[0], **body)


@route("DELETE", "/roleDefinitions/([^/]+)")
def _delete_role(sim, request, params, body):
    sim.tenant.delete_role_definition(params[0])
    return {"deleted": params[0]}


@route("POST", "/roleAssignments")
def _assign_role(sim, request, params, body):
    return sim.tenant.assign_role(body["principalId"], body["roleDefinitionId"], body.get("directoryScopeId", "/"))


@route("DELETE", "/roleAssignments/([^/]+)")
def _unassign_role(sim, request, params, body):
    sim.tenant.remove_role_assignment(params[0])
    return {"deleted": params[0]}


@route("POST", "/appRoleAssignments")
def _assign_app_role(sim, request, params, body):
    return sim.tenant.assign_app_role(body["principalId"], body["resourceId"], body.get("appRoleId"))


@route("DELETE", "/appRoleAssignments/([^/]+)")
def _unassign_app_role(sim, request, params, body):
    sim.tenant.remove_app_role_assignment(params[0])
    return {"deleted": params[0]}
