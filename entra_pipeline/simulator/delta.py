"""Delta queries for users, groups, directory roles and administrative units, as Graph
documents them (delta-query-overview, user-delta, group-delta, directoryrole-delta,
administrativeunit-delta).

A round starts without a token (initial: every object that exists) or from a deltaLink
(incremental: what changed since the link's position in the change log). Rounds are paged
with nextLinks; the last page carries the deltaLink for the next round, never both.
Large groups' `members@delta` are split over pages, the group repeated on each. Tokens are
opaque, encode the query (so later requests must not repeat it), expire after 7 days on the
simulated clock (400 syncStateNotFound), and a forced reset answers 410 with a Location.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from . import catalog
from .faults import Faults
from .odata import MAX_PAGE_SIZE, GraphError, context_url, decode_token, encode_token, parse_select
from .tenant import Tenant

TOKEN_MAX_AGE = dt.timedelta(days=7)


@dataclass(frozen=True)
class DeltaEntity:
    """One entity set delta tracks: its kind in the tenant's change log, the properties $select
    may name, the default ones, and where its objects live."""

    kind: str
    properties: tuple[str, ...]
    default: tuple[str, ...]
    path: str  # under /v1.0, without /delta
    live: str  # Tenant attribute holding the live objects
    deleted: str | None = None  # Tenant attribute holding soft-deleted ones (restorable: reason "changed")
    order: str | None = None  # Tenant attribute holding the listing order; None: the live dict's order


ENTITIES = {
    "users": DeltaEntity(
        "user",
        catalog.USER_PROPERTIES,
        catalog.USER_DEFAULT_PROPERTIES,
        "users",
        "users",
        "deleted_users",
        "user_order",
    ),
    "groups": DeltaEntity(
        "group",
        catalog.GROUP_PROPERTIES + ("members",),
        catalog.GROUP_DEFAULT_PROPERTIES,
        "groups",
        "groups",
        "deleted_groups",
        "group_order",
    ),
    # directoryrole-delta.md / administrativeunit-delta.md: their examples, requested without
    # $select, carry members@delta: members belong to the default set here.
    "directoryRoles": DeltaEntity(
        "directoryRole",
        catalog.DIRECTORY_ROLE_PROPERTIES + ("members",),
        catalog.DIRECTORY_ROLE_PROPERTIES + ("members",),
        "directoryRoles",
        "directory_roles",
    ),
    "administrativeUnits": DeltaEntity(
        "administrativeUnit",
        catalog.ADMINISTRATIVE_UNIT_PROPERTIES + ("members",),
        catalog.ADMINISTRATIVE_UNIT_PROPERTIES + ("members",),
        "directory/administrativeUnits",
        "administrative_units",
    ),
}


@dataclass
class DeltaSettings:
    page_size: int = 100  # objects per page unless `Prefer: odata.maxpagesize` asks otherwise
    members_per_page: int = 500  # members@delta entries per appearance of a group


@dataclass
class _Pending:
    object_id: str
    removed: str | None = None  # "changed" | "deleted"
    changed: frozenset[str] | None = None  # None: everything (created / restored)
    members: list[tuple[str, str, bool]] = field(default_factory=list)


class DeltaEngine:
    def __init__(
        self, tenant: Tenant, clock: Callable[[], dt.datetime], faults: Faults, settings: DeltaSettings | None = None
    ) -> None:
        self.tenant = tenant
        self.clock = clock
        self.faults = faults
        self.settings = settings or DeltaSettings()
        self.generation = {name: 0 for name in ENTITIES}
        self._cache: dict[tuple, list[_Pending]] = {}

    def force_reset(self, entity_set: str) -> None:
        """Every outstanding token of this entity set answers 410 Gone from now on."""
        self.generation[entity_set] += 1

    # ---------------------------------------------------------------- request
    def handle(self, entity_set: str, query: dict[str, str], headers: dict[str, str], base: str, path: str) -> dict:
        for unsupported in ("$top", "$orderby", "$skip", "$search", "$count"):
            if unsupported in query:
                raise GraphError(
                    400,
                    "Request_UnsupportedQuery",
                    f"The query option '{unsupported}' is not supported with delta query.",
                )
        page_size = self._page_size(headers)
        if query.get("$skiptoken"):
            state = self._state(entity_set, query["$skiptoken"], "skip", base)
            return self._page(entity_set, state, page_size, base, path)
        deltatoken = query.get("$deltatoken")
        if deltatoken == "latest":
            select = self._select(entity_set, query)
            seq = self.tenant.log.seq
            return {
                "@odata.context": context_url(base, entity_set, select),
                "value": [],
                "@odata.deltaLink": self._link(
                    base, entity_set, "$deltatoken", self._token(entity_set, select, w=seq, pw=seq)
                ),
            }
        if deltatoken:
            state = self._state(entity_set, deltatoken, "delta", base)
            w = state["w"]
            if self.faults.pick(path, entity_set, {"replay"}) and state.get("pw") is not None:
                w = state["pw"]  # the previous round's changes are served again
            state = dict(state, mode="inc", w=w, u=self.tenant.log.seq, i=0, m=0, pw=state["w"])
            return self._page(entity_set, state, page_size, base, path)
        # No token (or an empty $deltatoken=, as in a 410's Location): an initial round.
        select = self._select(entity_set, query)
        state = {
            "e": entity_set,
            "s": select,
            "mode": "init",
            "w": 0,
            "u": self.tenant.log.seq,
            "i": 0,
            "m": 0,
            "t": self._now(),
            "g": self.generation[entity_set],
            "pw": None,
        }
        return self._page(entity_set, state, page_size, base, path)

    def _select(self, entity_set: str, query: dict[str, str]) -> list[str] | None:
        entity = ENTITIES[entity_set]
        select = parse_select(query, entity.properties, entity.kind)
        expand = query.get("$expand")
        if expand is not None:
            if entity_set == "groups" and expand.strip() == "members":  # legacy form of $select=members
                select = (select or list(catalog.GROUP_DEFAULT_PROPERTIES)) + ["members"]
            else:
                raise GraphError(
                    400, "Request_UnsupportedQuery", "The query option '$expand' is not supported with delta query."
                )
        return select

    def _page_size(self, headers: dict[str, str]) -> int:
        for part in headers.get("prefer", "").split(","):
            name, _, value = part.strip().partition("=")
            if name.lower() == "odata.maxpagesize" and value.isdigit():
                return max(1, min(int(value), MAX_PAGE_SIZE))
        return self.settings.page_size

    def _now(self) -> int:
        return int(self.clock().timestamp())

    def _state(self, entity_set: str, token: str, kind: str, base: str) -> dict:
        state = decode_token(token, kind)
        if state.get("e") != entity_set:
            raise GraphError(400, "BadRequest", "The delta token does not belong to this resource.")
        if state.get("g") != self.generation[entity_set]:
            location = f"{base}/{ENTITIES[entity_set].path}/delta?"
            if state.get("s"):
                location += f"$select={quote(','.join(state['s']), safe=',')}&"
            raise GraphError(
                410,
                "resyncRequired",
                "The delta token is no longer valid, and the app must reset the sync state.",
                headers={"Location": location + "$deltatoken="},
            )
        if self._now() - state["t"] > TOKEN_MAX_AGE.total_seconds():
            raise GraphError(
                400,
                "syncStateNotFound",
                "The sync state generation is not found. The delta token is expired and data "
                "must be synchronized again.",
            )
        return state

    def _token(self, entity_set: str, select: list[str] | None, **fields) -> str:
        payload = {"e": entity_set, "s": select, "t": self._now(), "g": self.generation[entity_set]}
        payload.update(fields)
        return encode_token(payload)

    @staticmethod
    def _link(base: str, entity_set: str, name: str, token: str) -> str:
        return f"{base}/{ENTITIES[entity_set].path}/delta?{name}={token}"

    # ---------------------------------------------------------------- pages
    def _page(self, entity_set: str, state: dict, page_size: int, base: str, path: str) -> dict:
        body = {"@odata.context": context_url(base, entity_set, state["s"])}
        if self.faults.pick(path, entity_set, {"empty-page"}):
            body["value"] = []
            body["@odata.nextLink"] = self._link(base, entity_set, "$skiptoken", encode_token(state))
            return body
        pending = self._pending(entity_set, state)
        items, i, m = [], state["i"], state["m"]
        chunk = self.settings.members_per_page
        while len(items) < page_size and i < len(pending):
            item, members_left = self._render(entity_set, pending[i], state, m, chunk)
            if item is not None:
                items.append(item)
            if members_left:
                m += chunk  # the same group appears again on the next page with the next slice
                break
            i, m = i + 1, 0
        body["value"] = items
        if i < len(pending):
            body["@odata.nextLink"] = self._link(base, entity_set, "$skiptoken", encode_token(dict(state, i=i, m=m)))
        else:
            body["@odata.deltaLink"] = self._link(
                base,
                entity_set,
                "$deltatoken",
                self._token(entity_set, state["s"], w=state["u"], pw=state["w"] if state["mode"] == "inc" else None),
            )
        return body

    def _pending(self, entity_set: str, state: dict) -> list[_Pending]:
        key = (entity_set, state["mode"], state["w"], state["u"], self.generation[entity_set], tuple(state["s"] or ()))
        cached = self._cache.get(key)
        if cached is None:
            if state["mode"] == "init":
                entity = ENTITIES[entity_set]
                order = getattr(self.tenant, entity.order or entity.live)
                cached = [_Pending(object_id) for object_id in order]
            else:
                cached = self._changes(entity_set, state["w"], state["u"], state["s"])
            if len(self._cache) > 16:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = cached
        return cached

    def _changes(self, entity_set: str, after: int, upto: int, select: list[str] | None) -> list[_Pending]:
        entity = ENTITIES[entity_set]
        kind = entity.kind
        by_id: dict[str, _Pending] = {}
        everything = object()
        changed: dict[str, object | set] = {}
        member_changes: dict[str, dict[str, tuple[str, str, bool]]] = {}
        for change in self.tenant.log.between(after, upto):
            if change.entity != kind:
                continue
            pending = by_id.setdefault(change.object_id, _Pending(change.object_id))
            if change.action == "upsert":
                if change.properties is None:
                    changed[change.object_id] = everything
                elif changed.get(change.object_id) is not everything:
                    changed.setdefault(change.object_id, set()).update(change.properties)
            elif change.action == "member":  # the last change of each membership wins
                member_changes.setdefault(change.object_id, {})[change.member_id] = (
                    change.member_id,
                    change.member_kind,
                    change.added,
                )
        live = getattr(self.tenant, entity.live)
        deleted = getattr(self.tenant, entity.deleted) if entity.deleted else {}
        result = []
        wants_members = "members" in (select if select is not None else entity.default)
        for object_id, pending in by_id.items():
            pending.members = list(member_changes.get(object_id, {}).values())
            props = changed.get(object_id)
            pending.changed = None if props is everything else frozenset(props or ())
            if object_id not in live:
                pending.removed = "changed" if object_id in deleted else "deleted"
                result.append(pending)
                continue
            if props is everything:
                result.append(pending)
                continue
            relevant = set(pending.changed) if select is None else set(pending.changed) & set(select)
            if relevant or (wants_members and pending.members):
                if not wants_members:
                    pending.members = []
                result.append(pending)
        return result

    def _render(
        self, entity_set: str, pending: _Pending, state: dict, offset: int, chunk: int
    ) -> tuple[dict | None, bool]:
        """One object of a page, and whether its members continue on the next page."""
        entity = ENTITIES[entity_set]
        default = entity.default
        if pending.removed:
            return {"id": pending.object_id, "@removed": {"reason": pending.removed}}, False
        obj = getattr(self.tenant, entity.live).get(pending.object_id)
        if obj is None:  # deleted after the round started; a later round reports it
            return None, False
        select = state["s"]
        names = [n for n in (select or default) if n != "members"]
        force = set() if pending.changed is None or state["mode"] == "init" else set(pending.changed)
        item = {"id": obj["id"]}
        for name in names:
            value = obj.get(name)
            if value is not None or name in force:  # never-set properties are omitted in delta
                item[name] = value
        if "members" not in (select or default):
            return item, False
        if state["mode"] == "init":
            member_ids = self.tenant.live_members(obj["id"])
            total = len(member_ids)
            window = [(m, self.tenant.kind_of(m), True) for m in member_ids[offset : offset + chunk]]
        else:
            total = len(pending.members)
            window = pending.members[offset : offset + chunk]
        entries = []
        for member_id, member_kind, added in window:
            entry = {"@odata.type": catalog.ODATA_TYPE.get(member_kind or "user"), "id": member_id}
            if not added:
                entry["@removed"] = {"reason": "deleted"}
            entries.append(entry)
        item["members@delta"] = entries
        return item, offset + chunk < total
