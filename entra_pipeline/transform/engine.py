"""Applies a transformation map to one source object.

A map is a list of rows (source field -> target field, required or not), read exactly like
the spec's tables. Paths are dotted; a `[]` segment walks an array: a source
`memberOf.value[].id` yields one value per element, and a target `asset.assetRelations[].x`
puts value i into element i, so rows sharing a source array build one target array element
by element. A source field that is absent or null produces no target key, except through a
picker's `otherwise` (the spec's status lookups: UNKNOWN when the field is absent).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any

Document = dict[str, Any]  # a JSON object: a source document or a record
VENDOR_ID = "id"  # every entity's vendor asset id is its Entra object id

_ABSENT = object()


@dataclass(frozen=True)
class Picker:
    """FUNCTION_PICKER (LOOKUP on field): a value from `lookup`, else `otherwise`."""

    field: str
    lookup: tuple[tuple[Any, str], ...]
    otherwise: str

    def pick(self, source: Document) -> str:
        value = source.get(self.field) if isinstance(source, dict) else None
        for key, result in self.lookup:
            if value is key or (type(value) is type(key) and value == key):  # True must not match 1
                return result
        return self.otherwise


@dataclass(frozen=True)
class Row:
    source: str | Picker
    target: str
    required: bool = False


@dataclass(frozen=True)
class TransformMap:
    entity: str
    rows: tuple[Row, ...] = ()
    passthrough: str | None = None  # `* -> <passthrough>.&`: every source field, same name

    @cached_property
    def steps(self) -> tuple[Any, ...]:
        """The rows compiled once (see compile_steps): maps are applied to every object."""
        return compile_steps(self)

    @cached_property
    def fast(self) -> Callable[[Document], tuple[Document, list[str]]] | None:
        """The steps as one generated function (see generate), or None where the map has a step
        it does not cover: then `apply` walks the steps."""
        return generate(self)


@dataclass
class Outcome:
    vendor_asset_id: str | None
    record: Document | None
    problems: list[str] = field(default_factory=list)  # why the record is not sent


def row(source: str | Picker, target: str, required: bool = False) -> Row:
    return Row(source, target, required)


def picker(field_name: str, lookup: dict[Any, str], otherwise: str) -> Picker:
    return Picker(field_name, tuple(lookup.items()), otherwise)


def _get(value: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return _ABSENT
        value = value[part]
    return _ABSENT if value is None else value


@cache
def _parse(path: str) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    """`a.b[].c.d` -> (("a", "b"), ("c", "d")); `a.b` -> (("a", "b"), None). Parsed once per
    path: maps are applied to every object of the tenant."""
    if "[]" not in path:
        return tuple(path.split(".")), None
    head, _, tail = path.partition("[]")
    return tuple(head.split(".")), tuple(p for p in tail.split(".") if p)


def resolve(source: Document, path: str) -> Any:
    """A scalar (or _ABSENT), or for a path with `[]` a list with one value per element."""
    head, rest = _parse(path)
    if rest is None:
        return _get(source, head)
    items = _get(source, head)
    if not isinstance(items, list):
        return _ABSENT
    return [_get(item, rest) if rest else (_ABSENT if item is None else item) for item in items]


def _put(record: Document, path: tuple[str, ...], value: Any) -> None:
    node = record
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


def place(record: Document, target: str, value: Any) -> None:
    head, rest = _parse(target)
    if rest is None:
        if value is not _ABSENT:
            _put(record, head, value)
        return
    if not isinstance(value, list):  # the source array is absent: no target key, not an empty array
        return
    values = value
    node = record
    for part in head[:-1]:
        node = node.setdefault(part, {})
    array = node.setdefault(head[-1], [])
    while len(array) < len(values):
        array.append({})
    for index, item in enumerate(values):
        if item is not _ABSENT:
            _put(array[index], rest, item)


@dataclass(frozen=True)
class _ValueStep:
    """One row with a scalar source (or a picker) and a scalar target, its paths parsed once."""

    rule: Row
    source: tuple[str, ...] | None  # None: the row's source is a picker
    target: tuple[str, ...]


@dataclass(frozen=True)
class _ArrayStep:
    """Rows that read one source array into one target array, walked once per object: the same
    result as row by row (element i gets every field of item i), without a list per row."""

    source: tuple[str, ...]
    target: tuple[str, ...]
    fields: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]

    def apply(self, source: Document, record: Document) -> None:
        items = _get(source, self.source)
        if not isinstance(items, list):  # the source array is absent: no target key
            return
        node = record
        for part in self.target[:-1]:
            node = node.setdefault(part, {})
        array = node.setdefault(self.target[-1], [])
        while len(array) < len(items):
            array.append({})
        for element, item in zip(array, items, strict=False):  # the array may hold more
            for rest, target in self.fields:
                # _get and _put inlined: this loop runs for every relation of every object.
                value = item
                for part in rest:
                    value = value.get(part) if isinstance(value, dict) else None
                if value is None:
                    continue
                node = element
                for part in target[:-1]:
                    node = node.setdefault(part, {})
                node[target[-1]] = value


def compile_steps(transform: TransformMap) -> tuple[_ValueStep | _ArrayStep, ...]:
    """The map's rows in order, paths parsed, optional array rows merged per (source array,
    target array)."""
    steps: list[_ValueStep | list[Any]] = []
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for rule in transform.rows:
        target, target_rest = _parse(rule.target)
        if isinstance(rule.source, Picker):
            if target_rest is not None:
                raise ValueError(f"{transform.entity}: a picker's target must not be an array ({rule.target})")
            steps.append(_ValueStep(rule, None, target))
            continue
        source, rest = _parse(rule.source)
        if rest is not None and target_rest is not None and rest and not rule.required:
            if (source, target) not in groups:
                groups[(source, target)] = []
                steps.append([source, target, groups[(source, target)]])
            groups[(source, target)].append((rest, target_rest))
            continue
        steps.append(_ValueStep(rule, source if rest is None else None, target))
    return tuple(_ArrayStep(s[0], s[1], tuple(s[2])) if isinstance(s, list) else s for s in steps)


def apply(transform: TransformMap, source: Document) -> Outcome:
    vendor_id = source.get(VENDOR_ID) if isinstance(source, dict) else None
    vendor_id = vendor_id if isinstance(vendor_id, str) and vendor_id else None
    if transform.passthrough:
        record: Document = {}
        # The general rule holds for `*` too: a null source field produces no target key.
        _put(record, _parse(transform.passthrough)[0], {k: v for k, v in source.items() if v is not None})
        return Outcome(vendor_id, record, [] if vendor_id else ["missing id"])
    fast = transform.fast
    if fast is not None and source.__class__ is dict:
        record, problems = fast(source)
        return Outcome(vendor_id, None if problems else record, problems)
    return _walk(transform, source, vendor_id)


def _walk(transform: TransformMap, source: Document, vendor_id: str | None) -> Outcome:
    """The steps applied one by one: what `generate`'s function does in one piece."""
    record: Document = {}
    problems: list[str] = []
    for step in transform.steps:
        if isinstance(step, _ArrayStep):
            step.apply(source, record)
            continue
        rule = step.rule
        if isinstance(rule.source, Picker):
            _put(record, step.target, rule.source.pick(source))
            continue
        if step.source is None:  # an array row kept apart (required): the general path
            value = resolve(source, rule.source)
        else:
            value = _get(source, step.source)
        if rule.required and not (isinstance(value, str) and value.strip()):
            # identifiers are strings in Graph: anything else is a corrupt object, not an id
            what = "missing" if value is _ABSENT or isinstance(value, str) else f"not a string ({type(value).__name__})"
            problems.append(f"required field {rule.source} (-> {rule.target}) is {what}")
            continue
        if step.source is None:
            place(record, rule.target, value)
        elif value is not _ABSENT:
            _put(record, step.target, value)
    if problems:
        return Outcome(vendor_id, None, problems)
    return Outcome(vendor_id, record)


def _shape_is_plain(steps: tuple[Any, ...]) -> bool:
    """Whether every node of the record the steps build is a dict only the steps create: no
    target is a prefix of another (nor a scalar target an array's), so the record's dicts can be
    made when first needed instead of looked up at every put, with the same result."""
    leaves = {step.target for step in steps if isinstance(step, _ValueStep)}
    arrays = {step.target for step in steps if isinstance(step, _ArrayStep)}
    inner = {path[:i] for path in leaves | arrays for i in range(1, len(path))}
    if leaves & inner or arrays & inner or leaves & arrays:
        return False
    for array in arrays:
        fields = {
            target
            for step in steps
            if isinstance(step, _ArrayStep) and step.target == array
            for _, target in step.fields
        }
        if fields & {path[:i] for path in fields for i in range(1, len(path))}:
            return False
    return True


def generate(transform: TransformMap) -> Callable[[Document], tuple[Document, list[str]]] | None:
    """The map's steps as the source of one Python function (of a plain-dict source object), so
    the paths, pickers and required checks cost no loop of their own per object. It does what
    `_walk` does, step for step, in the same order (so the record's keys come in the same order);
    maps it does not cover (an array row kept apart, a target inside another) return None."""
    steps = transform.steps
    if (
        not steps
        or not all(
            isinstance(step, _ArrayStep) or step.source is not None or isinstance(step.rule.source, Picker)
            for step in steps
        )
        or not _shape_is_plain(steps)
    ):
        return None
    constants: dict[str, Any] = {}
    nodes: dict[tuple[str, ...], str] = {(): "record"}
    body: list[str] = []

    def constant(value: Any) -> str:
        name = f"_k{len(constants)}"
        constants[name] = value
        return name

    def node(path: tuple[str, ...], indent: str, out: list[str]) -> str:
        """The variable holding the record's dict at `path`, made (with its parents) if not yet."""
        if path not in nodes:
            nodes[path] = f"n{len(nodes)}"
        name = nodes[path]
        if path:
            out.append(f"{indent}if {name} is None:")
            parent = node(path[:-1], indent + "    ", out)
            out.append(f"{indent}    {name} = {parent}[{path[-1]!r}] = {{}}")
        return name

    def read(target: str, holder: str, path: tuple[str, ...], indent: str, out: list[str]) -> None:
        """`target` = the value at `path` in `holder` (a dict), None where absent or null."""
        out.append(f"{indent}{target} = {holder}.get({path[0]!r})")
        for part in path[1:]:
            out.append(f"{indent}{target} = {target}.get({part!r}) if isinstance({target}, dict) else None")

    for step in steps:
        if isinstance(step, _ArrayStep):
            read("items", "source", step.source, "    ", body)
            body.append("    if isinstance(items, list):")
            parent = node(step.target[:-1], "        ", body)
            body.append(f"        array = {parent}.setdefault({step.target[-1]!r}, [])")
            body.append("        while len(array) < len(items):")
            body.append("            array.append({})")
            body.append("        for element, item in zip(array, items):")
            body.append("            if not isinstance(item, dict):")
            body.append("                continue")
            inner: dict[tuple[str, ...], str] = {(): "element"}
            loop: list[str] = []
            for rest, target in step.fields:
                read("value", "item", rest, "            ", loop)
                loop.append("            if value is not None:")
                holder = "element"
                for i in range(1, len(target)):
                    sub = target[:i]
                    if sub not in inner:
                        inner[sub] = f"e{len(inner)}"
                    name = inner[sub]
                    loop.append(f"                if {name} is None:")
                    loop.append(f"                    {name} = {holder}.get({sub[-1]!r})")
                    loop.append(f"                    if {name} is None:")
                    loop.append(f"                        {name} = {holder}[{sub[-1]!r}] = {{}}")
                    holder = name
                loop.append(f"                {holder}[{target[-1]!r}] = value")
            names = [name for path, name in inner.items() if path]
            if names:
                body.append(f"            {' = '.join(names)} = None")
            body.extend(loop)
            continue
        rule = step.rule
        if isinstance(rule.source, Picker):
            parent = node(step.target[:-1], "    ", body)
            body.append(f"    {parent}[{step.target[-1]!r}] = {constant(rule.source.pick)}(source)")
            continue
        read("value", "source", step.source, "    ", body)
        if rule.required:
            prefix = constant(f"required field {rule.source} (-> {rule.target}) is ")
            body.append("    if not (isinstance(value, str) and value.strip()):")
            body.append(
                f"        problems.append({prefix} + ('missing' if value is None or isinstance(value, str) "
                "else f'not a string ({type(value).__name__})'))"
            )
            body.append("    else:")
        else:
            body.append("    if value is not None:")
        parent = node(step.target[:-1], "        ", body)
        body.append(f"        {parent}[{step.target[-1]!r}] = value")
    head = ["def fast(source):", "    record, problems = {}, []"]
    head += [f"    {name} = None" for path, name in nodes.items() if path]
    code = "\n".join(head + body + ["    return record, problems", ""])
    namespace: dict[str, Any] = dict(constants)
    exec(compile(code, f"<map {transform.entity}>", "exec"), namespace)  # noqa: S102 - our own maps' paths, repr-quoted
    fast: Callable[[Document], tuple[Document, list[str]]] = namespace["fast"]
    return fast
