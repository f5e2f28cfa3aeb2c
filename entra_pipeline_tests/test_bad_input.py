"""Bad input never crashes a run: arbitrary JSON in every field the maps read gives a correct
record or a per-object reason; every field of connectors.yaml, given wrong types, out-of-range
values or hostile strings, gives a ConfigError naming that field."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from entra_pipeline.config import ConfigError, Connector, parse_connectors
from entra_pipeline.graph import decode
from entra_pipeline.transform.engine import Picker, apply
from entra_pipeline.transform.maps import MAPS
from entra_pipeline.transform.records import canonical_json

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
HOSTILE_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\nb",
        "\u202eevil",
        "x" * 20_000,
        "../../etc/passwd",
        "${HOME}",
        "'; DROP TABLE records;--",
        "ünïcødé ✓",
        "\r\n\t",
        "\x1b[2J\x1b]0;t\x07",
        "half \ud83d",
        "\udc00",
        "\ud83d\ude00 whole",
        "\x9b31m",
    ]
)
# Any code point, lone surrogates (category Cs) and controls included, and strings past the bound.
ANY_TEXT = st.text(
    st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()), max_size=60
) | st.builds(lambda unit, n: unit * n, st.sampled_from(["M", "\ud800", "é", "\x00"]), st.integers(16_000, 17_000))


def source_fields(entity: str) -> list[str]:
    """Every top-level field the entity's map reads."""
    fields = set()
    for rule in MAPS[entity].rows:
        path = rule.source.field if isinstance(rule.source, Picker) else rule.source
        fields.add(path.split(".")[0].split("[]")[0])
    return sorted(fields - {"*"})


def document(entity: str):
    """A document with each mapped field absent, or any JSON value, or a hostile string; the id
    and (users) userPrincipalName sometimes valid."""
    fields = source_fields(entity)
    values = st.one_of(JSON, HOSTILE_TEXT)
    return st.fixed_dictionaries({}, optional={name: values for name in fields}).flatmap(
        lambda doc: st.sampled_from([doc, {**doc, "id": "6e7b-valid", "userPrincipalName": "ada@contoso.com"}])
    )


def _scalar(source: dict, path: str):
    value = source
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(entity=st.sampled_from(sorted(e for e in MAPS if not MAPS[e].passthrough)), data=st.data())
@example(entity="users", data=None)
def test_any_json_in_mapped_fields_gives_a_correct_record_or_a_reason(entity, data):
    doc = data.draw(document(entity)) if data else {"id": 7, "userPrincipalName": ["x"], "memberOf": "nope"}
    outcome = apply(MAPS[entity], doc)
    if outcome.record is None:
        assert outcome.problems and all(isinstance(p, str) and p for p in outcome.problems)
        return
    assert outcome.problems == [] and isinstance(outcome.vendor_asset_id, str) and outcome.vendor_asset_id
    json.loads(canonical_json(outcome.record))  # serialisable as sent
    for rule in MAPS[entity].rows:
        if isinstance(rule.source, Picker) or "[]" in rule.source or "[]" in rule.target:
            continue
        expected = _scalar(doc, rule.source)
        got = _scalar(outcome.record, rule.target)
        if expected is not None:
            assert got == expected, (rule, doc)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    objects=st.lists(
        st.dictionaries(
            st.sampled_from(["displayName", "jobTitle", "mail", "tags"]),
            ANY_TEXT | st.lists(ANY_TEXT, max_size=3),
            max_size=4,
        ),
        max_size=4,
    )
)
def test_any_text_graph_sends_arrives_encodable_bounded_and_each_repair_named(objects):
    page = {"value": [{"id": f"id-{n}", **fields} for n, fields in enumerate(objects)]}
    body = json.dumps(page, ensure_ascii=True).encode()  # lone surrogates travel as \\u escapes
    loaded, repairs = decode.load(body, "/users")

    def strings(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            for inner in value:
                yield from strings(inner)

    changed = set()
    for sent, got in zip(page["value"], loaded["value"], strict=True):
        for key, value in sent.items():
            for text in strings(got[key]):
                text.encode("utf-8")  # storable, sendable, printable
                assert len(text) <= decode.MAX_STRING
            if got[key] != value:
                changed.add((sent["id"], key))
    assert {(r.object_id, r.field) for r in repairs} == changed  # every change named, nothing else


def test_a_non_string_id_is_a_per_object_reason_not_a_record_without_an_id():
    for bad in (7, 1.5, True, ["a"], {"a": 1}, "", "   "):
        outcome = apply(MAPS["groups"], {"id": bad, "displayName": "G"})
        assert outcome.record is None and any("id" in p for p in outcome.problems), bad


CONNECTOR = {
    "name": "ok",
    "tenant_id": "contoso.onmicrosoft.com",
    "client_id": "00000000-0000-0000-0000-000000000001",
    "client_secret_env": "SECRET",
}
HOSTILE_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    HOSTILE_TEXT,
    st.text(max_size=300),
)


@settings(max_examples=600, deadline=None)
@given(field=st.sampled_from(sorted(Connector.model_fields)), value=HOSTILE_VALUES)
def test_every_connector_field_with_a_bad_value_is_refused_by_name(field, value):
    entry = {**CONNECTOR, field: value}
    try:
        parse_connectors({"connectors": [entry]})
    except ConfigError as error:
        assert f"field '{field}" in str(error) or field in str(error), str(error)
        assert "Traceback" not in str(error)


def test_names_that_would_escape_the_home_folder_are_refused():
    for name in ("../x", "a/b", "..", "/abs", "a\x00b", "x" * 64, "-lead"):
        try:
            parse_connectors({"connectors": [{**CONNECTOR, "name": name}]})
        except ConfigError as error:
            assert "field 'name'" in str(error)
        else:
            raise AssertionError(f"{name!r} accepted")


@settings(max_examples=200, deadline=None)
@given(
    schedule=st.fixed_dictionaries(
        {},
        optional={
            "occurs": st.one_of(st.sampled_from(["single", "recurring", "weekly"]), HOSTILE_VALUES),
            "start": st.one_of(st.sampled_from(["2026-12-01 02:00", "2026-02-30 00:00", "tomorrow"]), HOSTILE_VALUES),
            "end": st.one_of(st.sampled_from(["2027-01-01 00:00", "2025-01-01 00:00"]), HOSTILE_VALUES),
            "every": st.one_of(st.sampled_from(["6h", "0m", "1w", "-1d"]), HOSTILE_VALUES),
            "cron": st.one_of(st.sampled_from(["0 2 * * 1", "* *", "61 * * * *"]), HOSTILE_VALUES),
            "timezone": st.one_of(st.sampled_from(["UTC", "Asia/Calcutta", "Mars/Base"]), HOSTILE_VALUES),
            "extra": HOSTILE_VALUES,
        },
    )
)
def test_any_schedule_is_a_schedule_or_a_named_refusal(schedule):
    try:
        parse_connectors({"connectors": [{**CONNECTOR, "schedule": schedule}]})
    except ConfigError as error:
        assert "field 'schedule" in str(error), str(error)


def test_only_a_lone_surrogate_is_reported_as_one():
    for value, says in (("", "tenant_id"), ("x\ud800", "lone UTF-16 surrogate")):
        try:
            parse_connectors({"connectors": [{**CONNECTOR, "tenant_id": value}]})
        except ConfigError as error:
            assert says in str(error) and ("surrogate" in str(error)) == bool(value), str(error)
        else:
            raise AssertionError(f"{value!r} accepted")
