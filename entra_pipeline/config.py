"""Connector configuration: `connectors.yaml` in the home folder, loaded into models that
mirror the spec's three steps (Profile & Connectivity, Scope & Schedule, Advanced Settings).

Every invalid value is reported with the connector's name, the field and what is allowed.
Client secrets are stored only encrypted (`enc:` + Fernet token) or referenced by an
environment variable; a plain-text secret in the file is refused.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
import stat
import tempfile
import zoneinfo
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Annotated, Literal

import yaml
from cryptography.fernet import Fernet, InvalidToken
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from . import redact

HOME_ENV = "ENTRA_PIPELINE_HOME"
KEY_ENV = "ENTRA_PIPELINE_KEY"
KEY_FILE_ENV = "ENTRA_PIPELINE_KEY_FILE"  # a file holding the key: a mounted Kubernetes or Key Vault secret
CONNECTORS_FILE = "connectors.yaml"
KEY_FILE = "secret.key"
ENCRYPTED_PREFIX = "enc:"

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
DOMAIN = re.compile(r"^(?=.{4,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
INTERVAL = re.compile(r"^(\d+)\s*([mhd])$")
# The shortest `every` a recurring schedule may have (docs/schedules.md, "Minimum interval": the
# longest measured run, a full pull at 1M users, takes 7.4 minutes; 15 leaves it twice that).
MIN_INTERVAL = dt.timedelta(minutes=15)
INTERVAL_UNITS = {"m": dt.timedelta(minutes=1), "h": dt.timedelta(hours=1), "d": dt.timedelta(days=1)}
# How a local time is written in connectors.yaml, flags and answers.
TIME_FORMAT = "%Y-%m-%d %H:%M"
TIME_EXAMPLE = "2026-12-01 02:00"

# Login and Graph hosts per national cloud (graph.md §6.5).
CLOUDS: dict[str, tuple[str, str]] = {
    "global": ("https://login.microsoftonline.com", "https://graph.microsoft.com"),
    "usgov": ("https://login.microsoftonline.us", "https://graph.microsoft.us"),
    "usgov-dod": ("https://login.microsoftonline.us", "https://dod-graph.microsoft.us"),
    "china": ("https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"),
}


class ConfigError(Exception):
    """Configuration that cannot be used; the message names the connector, field and remedy."""


class FieldError(ValueError):
    """A model-level problem that belongs to one of the model's fields (a schedule's end that is
    not after its start is the end's problem): field_problems reports it on that field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def interval_length(text: str) -> dt.timedelta | None:
    """'6h' as six hours; None if the text is not a number followed by m, h or d."""
    match = INTERVAL.match(text.strip())
    return int(match.group(1)) * INTERVAL_UNITS[match.group(2)] if match else None


def end_problem(start: dt.datetime, end: dt.datetime) -> str | None:
    """The one rule between a schedule's start and end, in the words the wizard and the file share."""
    if end > start:
        return None
    return f"end {end:{TIME_FORMAT}} is not after start {start:{TIME_FORMAT}}"


def home_folder(explicit: str | Path | None = None) -> Path:
    """--home, else $ENTRA_PIPELINE_HOME, else ~/.entra-pipeline."""
    raw = explicit or os.environ.get(HOME_ENV) or Path.home() / ".entra-pipeline"
    return Path(raw).expanduser().resolve()


# --------------------------------------------------------------------------- secrets
class SecretBox:
    """Fernet encryption of client secrets. The key comes from $ENTRA_PIPELINE_KEY, else from the
    file $ENTRA_PIPELINE_KEY_FILE names, else from `secret.key` in the home folder (created
    owner-only on first use)."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def _key(self) -> bytes:
        key = self._configured_key()
        redact.remember(key.decode(errors="replace"))
        return key

    def _configured_key(self) -> bytes:
        from_env = os.environ.get(KEY_ENV)
        if from_env:
            return from_env.encode()
        named = os.environ.get(KEY_FILE_ENV)
        if named:
            try:
                return Path(named).read_bytes().strip()
            except OSError as error:
                raise ConfigError(
                    f"{KEY_FILE_ENV}={named}: the key file cannot be read ({error.strerror}): "
                    "mount the secret holding the key there, or set ENTRA_PIPELINE_KEY"
                ) from None
        path = self.home / KEY_FILE
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(Fernet.generate_key())
        return path.read_bytes().strip()

    def encrypt(self, secret: str) -> str:
        return ENCRYPTED_PREFIX + Fernet(self._key()).encrypt(secret.encode()).decode()

    def decrypt(self, stored: str) -> SecretStr:
        try:
            return SecretStr(Fernet(self._key()).decrypt(stored[len(ENCRYPTED_PREFIX) :].encode()).decode())
        except (InvalidToken, ValueError) as error:
            raise ConfigError(
                "the client secret cannot be decrypted with this key: set ENTRA_PIPELINE_KEY to the key it was "
                "encrypted with, or store the secret again with `entra-pipeline connector rotate-secret NAME`"
            ) from error


def resolve_secret(home: Path, stored: str | None, env: str | None, owner: str) -> SecretStr:
    """An encrypted stored secret, or the named environment variable's value."""
    if env:
        value = os.environ.get(env)
        if not value:
            raise ConfigError(f"{owner}: environment variable {env} is not set")
        redact.remember(value)
        return SecretStr(value)
    try:
        secret = SecretBox(home).decrypt(stored or "")
    except ConfigError as error:
        raise ConfigError(f"{owner}: {error}") from None
    redact.remember(secret.get_secret_value())  # masked in every text this process writes from now on
    return secret


# --------------------------------------------------------------------------- models
class Schedule(BaseModel):
    """Scope & Schedule: a single occurrence, or recurring every interval (or cron) between
    start and end, in an IANA timezone."""

    model_config = ConfigDict(extra="forbid")

    occurs: Literal["single", "recurring"]
    start: dt.datetime
    end: dt.datetime | None = None
    every: str | None = Field(default=None, description="interval such as 30m, 6h or 1d")
    cron: str | None = None
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        if value not in zoneinfo.available_timezones():
            raise ValueError(f"unknown timezone {value!r}: use an IANA name such as Asia/Calcutta or Europe/London")
        return value

    @field_validator("every")
    @classmethod
    def _interval(cls, value: str | None) -> str | None:
        if value is None:
            return value
        length = interval_length(value)
        if length is None:
            raise ValueError(f"interval {value!r} is not a number followed by m, h or d (e.g. 6h)")
        if length < MIN_INTERVAL:
            raise ValueError(
                f"interval {value!r} is shorter than the minimum of {MIN_INTERVAL.seconds // 60}m, "
                "which keeps runs from overlapping and the tenant inside Graph's budget: give 15m or "
                "more (docs/schedules.md)"
            )
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and len(value.split()) != 5:
            raise ValueError(f"cron {value!r} must have five fields (minute hour day month weekday)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Schedule:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is not None:
                raise FieldError(
                    name, f"give {name} as a local time (e.g. '{TIME_EXAMPLE}'); the timezone field says where"
                )
        # Schedules run to the minute (cron's resolution): seconds would make every tick miss the start.
        self.start = self.start.replace(second=0, microsecond=0)
        self.end = self.end.replace(second=0, microsecond=0) if self.end else None
        if self.occurs == "recurring":
            if self.end is None:
                raise FieldError("end", "a recurring schedule needs an end")
            if (self.every is None) == (self.cron is None):
                raise FieldError("every", "a recurring schedule needs exactly one of every (e.g. 6h) or cron")
        elif self.every is not None or self.cron is not None:
            raise FieldError(
                "every" if self.every is not None else "cron", "a single occurrence takes no every or cron"
            )
        problem = end_problem(self.start, self.end) if self.end is not None else None
        if problem:
            raise FieldError("end", problem)
        return self


class LocalDestination(BaseModel):
    """The embedded default: a SQLite inventory under the home folder."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["local"] = "local"


class QualysDestination(BaseModel):
    """Qualys CSAM's import API (POST {gateway}/rest/2.0/am/connector/asset/data/sync)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["qualys"]
    gateway: str = Field(description="API gateway origin, e.g. https://gateway.qg1.apps.qualys.com")
    connector_uuid: str = Field(description="the Connector UUID Qualys generated for the webhook connector")
    auth: Literal["password", "oauth"] = "password"
    username: str | None = None
    password: str | None = None  # enc:
    password_env: str | None = None
    client_id: str | None = None  # auth: oauth (subscription-level client)
    client_secret: str | None = None  # enc:
    client_secret_env: str | None = None
    batch_size: int = Field(default=100, ge=1, le=1000)
    source: str = "Microsoft"
    ca_bundle: Path | None = None

    @field_validator("gateway")
    @classmethod
    def _https(cls, value: str) -> str:
        if not re.match(r"^https://[^/\s]+$", value.rstrip("/")):
            raise ValueError(f"{value!r} must be an https:// origin such as https://gateway.qg1.apps.qualys.com")
        return value.rstrip("/")

    @field_validator("connector_uuid")
    @classmethod
    def _uuid(cls, value: str) -> str:
        if not GUID.match(value):
            raise ValueError(f"{value!r} is not a connector UUID")
        return value.lower()

    @field_validator("password", "client_secret")
    @classmethod
    def _encrypted(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(ENCRYPTED_PREFIX):
            raise ValueError(
                "a plain-text Qualys secret is not accepted: store it encrypted (enc:...) or name an "
                "environment variable with password_env / client_secret_env"
            )
        return value

    @model_validator(mode="after")
    def _credentials(self) -> QualysDestination:
        if self.auth == "password":
            if not self.username or (self.password is None) == (self.password_env is None):
                raise ValueError("password auth needs username and exactly one of password (encrypted) or password_env")
        elif not self.client_id or (self.client_secret is None) == (self.client_secret_env is None):
            raise ValueError(
                "oauth auth needs client_id and exactly one of client_secret (encrypted) or client_secret_env"
            )
        return self

    def secret(self, home: Path) -> SecretStr:
        stored, env = (
            (self.password, self.password_env)
            if self.auth == "password"
            else (self.client_secret, self.client_secret_env)
        )
        return resolve_secret(home, stored, env, "Qualys destination")


DestinationSettings = Annotated[LocalDestination | QualysDestination, Field(discriminator="kind")]


def dagster_name_of(name: str) -> str:
    """Dagster group names allow only [A-Za-z0-9_]: two connector names differing only by '-'
    and '_' would be one Dagster name, so they count as one name."""
    return name.replace("-", "_")


class Connector(BaseModel):
    """One configured tenant. Field names follow connectors.yaml."""

    model_config = ConfigDict(extra="forbid")

    # Profile & Connectivity
    name: str
    description: str | None = Field(default=None, max_length=180)
    tenant_id: str
    client_id: str
    client_secret: str | None = None
    client_secret_env: str | None = None
    cloud: Literal["global", "usgov", "usgov-dod", "china"] = "global"
    authority_host: str | None = None
    graph_endpoint: str | None = None
    ca_bundle: Path | None = None
    # Scope & Schedule, Advanced Settings
    asset_types: Literal["identities_only", "identities_with_security_posture"] = "identities_only"
    schedule: Schedule | None = None
    baseline: Literal["weekly", "fortnightly", "triweekly", "monthly"] = "weekly"
    retain_previous_delta: bool = False
    require_manual_sync: bool = False
    destination: DestinationSettings = LocalDestination()

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError("use 1-63 letters, digits, '-' or '_', starting with a letter or digit")
        return value

    @field_validator("tenant_id")
    @classmethod
    def _tenant(cls, value: str) -> str:
        if not (GUID.match(value) or DOMAIN.match(value)):
            raise ValueError(
                f"{value!r} is neither a directory (tenant) id GUID nor a verified domain such as "
                "contoso.onmicrosoft.com"
            )
        return value.lower()

    @field_validator("client_id")
    @classmethod
    def _client(cls, value: str) -> str:
        if not GUID.match(value):
            raise ValueError(f"{value!r} is not an application (client) id GUID")
        return value.lower()

    @field_validator("client_secret")
    @classmethod
    def _encrypted(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(ENCRYPTED_PREFIX):
            raise ValueError(
                "a plain-text secret is not accepted in connectors.yaml: store it encrypted with "
                "`entra-pipeline connector add --client-secret-stdin ...`, or name an environment "
                "variable with client_secret_env"
            )
        return value

    @field_validator("client_secret_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not ENV_NAME.match(value):
            raise ValueError(f"{value!r} is not an environment variable name")
        return value

    @field_validator("authority_host", "graph_endpoint")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https://[^/\s]+$", value.rstrip("/")):
            raise ValueError(f"{value!r} must be an https:// origin such as https://127.0.0.1:8443 (TLS is required)")
        return value.rstrip("/") if value else value

    @field_validator("ca_bundle")
    @classmethod
    def _ca_exists(cls, value: Path | None) -> Path | None:
        if value is None:
            return value
        try:
            found = value.expanduser().is_file()
        except (OSError, ValueError) as error:  # a name too long, a NUL byte
            raise ValueError(
                f"CA bundle path cannot be used ({type(error).__name__}): give the path of a PEM file"
            ) from None
        if not found:
            raise ValueError(f"CA bundle {str(value)[:200]} does not exist")
        return value.expanduser().resolve()

    @model_validator(mode="after")
    def _one_secret(self) -> Connector:
        if (self.client_secret is None) == (self.client_secret_env is None):
            raise ValueError("give exactly one of client_secret (encrypted) or client_secret_env")
        return self

    # ---------------------------------------------------------------- derived
    @property
    def login_host(self) -> str:
        return self.authority_host or CLOUDS[self.cloud][0]

    @property
    def graph_host(self) -> str:
        return self.graph_endpoint or CLOUDS[self.cloud][1]

    @property
    def graph_scope(self) -> str:
        """Tokens are always for Microsoft Graph of the connector's cloud, even through an override."""
        return f"{CLOUDS[self.cloud][1]}/.default"

    @property
    def dagster_name(self) -> str:
        return dagster_name_of(self.name)

    def secret(self, home: Path) -> SecretStr:
        return resolve_secret(home, self.client_secret, self.client_secret_env, f"connector {self.name!r}")


# --------------------------------------------------------------------------- file
# Pydantic's problem types, in our words ("Input should be ..." never reaches the operator).
# Each takes the value given, already cut for printing.
_EXPECTED = {
    "missing": lambda _: "required",
    "string_type": lambda got: f"expected text, got {got}",
    "bool_type": lambda got: f"expected true or false, got {got}",
    "bool_parsing": lambda got: f"expected true or false (or y / n), got {got}",
    "int_type": lambda got: f"expected a whole number, got {got}",
    "int_parsing": lambda got: f"expected a whole number, got {got}",
    "int_from_float": lambda got: f"expected a whole number, got {got}",
    "model_type": lambda got: f"expected a mapping of fields, got {got}",
    "model_attributes_type": lambda got: f"expected a mapping of fields, got {got}",
    "dict_type": lambda got: f"expected a mapping of fields, got {got}",
    "path_type": lambda got: f"expected the path of a PEM file, got {got}",
    "union_tag_invalid": lambda got: "kind must be 'local' or 'qualys'",
    "union_tag_not_found": lambda got: "a destination needs a kind: 'local' or 'qualys'",
}
_TIME_TYPES = ("datetime_type", "datetime_parsing", "datetime_from_date_parsing", "datetime_object_invalid")


def _problem_text(problem: dict) -> str:
    kind, given = problem["type"], problem.get("input")
    if kind == "extra_forbidden":
        return "unknown field; see connectors.yaml in the README for the fields a connector takes"
    if kind == "string_too_long":
        return f"at most {problem['ctx']['max_length']} characters (got {len(given)})"
    if kind == "literal_error":
        return f"got {_shown(given)}; allowed: {problem['ctx']['expected']}"
    if kind in _TIME_TYPES:
        return f"{_shown(given)} is not a date and time: write it as YYYY-MM-DD HH:MM, e.g. {TIME_EXAMPLE}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        words = {"ge": "at least", "le": "at most", "gt": "more than", "lt": "less than"}
        return f"got {_shown(given)}; allowed: " + ", ".join(
            f"{words.get(k, k)} {v}" for k, v in problem["ctx"].items()
        )
    if kind in _EXPECTED:
        return _EXPECTED[kind](_kind(given))
    message = problem["msg"].removeprefix("Value error, ")
    return message.replace("Input should be", "should be")  # a type no connector field has had yet


def field_problems(error: ValidationError) -> list[tuple[str, str]]:
    """(field path, what is wrong and what is allowed) for each problem pydantic found: the one
    place where pydantic's errors become ours, for connectors.yaml, flags and the wizard alike."""
    problems = []
    for problem in error.errors():
        path = [str(part) for part in problem["loc"]]
        cause = (problem.get("ctx") or {}).get("error")
        if isinstance(cause, FieldError):
            path.append(cause.field)
        problems.append((".".join(path) or "(connector)", _problem_text(problem)))
    return problems


def _explain(error: ValidationError, where: str) -> list[str]:
    return [f"{where}: field '{field}': {message}" for field, message in field_problems(error)]


# What connectors.yaml may be. A connector is about 0.5 KB, so 1 MiB holds some two thousand:
# the limit only refuses a wrong or hostile file before parsing it costs anything (the pure-Python
# parser needs about 3 s and 60 MB per MB of YAML).
MAX_FILE_BYTES = 1 << 20
# A connector nests five levels (document, connectors, entry, destination, value); the composer
# recurses once per level, so a file of nested brackets would otherwise end in a RecursionError.
MAX_DEPTH = 32
TOP_LEVEL_KEYS = ("connectors",)
ENTRY_SHAPE = (
    "a mapping of fields, e.g.\n  connectors:\n    - name: contoso-prod\n"
    "      tenant_id: contoso.onmicrosoft.com\n      client_id: <application (client) id>\n"
    "      client_secret_env: CONTOSO_SECRET"
)


def _line(mark_holder: yaml.Node | yaml.Event) -> int:
    return mark_holder.start_mark.line + 1


def _at(line: int | None) -> str:
    return f" (line {line})" if line else ""


def _shown(value: object, limit: int = 80) -> str:
    """A value for a message: its repr, cut so a hostile value cannot flood the terminal."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _kind(value: object) -> str:
    if value is None:
        return "nothing (null)"
    kinds = {list: "a list", dict: "a mapping", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return f"{kinds.get(type(value), 'a ' + type(value).__name__)} {_shown(value, 40)}"


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader refusing what connectors.yaml never needs: anchors and aliases (refused at
    the parser's event, before anything is composed, so a "billion laughs" costs nothing), nesting
    deeper than MAX_DEPTH, and a key repeated in one mapping (PyYAML would keep the last silently).
    Its errors are ConfigErrors naming the line; the reader adds the file."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise ConfigError(
                f"YAML aliases are not accepted in connectors.yaml{_at(_line(event))}: "
                "write each value out in full (no & anchors or * aliases)"
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise ConfigError(
                    f"nested more than {MAX_DEPTH} levels deep{_at(_line(event))}: a connector entry needs five"
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict:
        if not isinstance(node, yaml.MappingNode):  # `!!set [a]`: the base class names it
            return super().construct_mapping(node, deep)
        first_lines: dict[object, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<` merges are meant to be overridden
            key = self.construct_object(key_node, deep=True)
            try:
                first = first_lines.get(key)
            except TypeError:
                continue  # an unhashable key: the base class names it
            if first is not None:
                raise ConfigError(
                    f"duplicate key {_shown(key)} (lines {first} and {_line(key_node)}): "
                    "a key may appear once in a mapping; remove one of them"
                )
            first_lines[key] = _line(key_node)
        return super().construct_mapping(node, deep)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> object:
        try:
            return super().construct_object(node, deep)
        except (ValueError, LookupError, AttributeError, TypeError) as error:
            # PyYAML's constructors raise these, without a place, for a value its tag does not fit:
            # `2026-02-30`, `!!int x`, `!!int ""`, `!!bool maybe`, `!!timestamp soon`.
            detail = f": {error}" if isinstance(error, ValueError) else ""
            raise ConfigError(
                f"{_shown(node.value, 60)}{_at(_line(node))} cannot be read as a YAML "
                f"{node.tag.rsplit(':', 1)[-1]}{detail}"
            ) from None


@dataclass(frozen=True)
class Lines:
    """Where a document's parts start (1-based), for messages; empty for a document built in code."""

    keys: dict[object, int] = dataclass_field(default_factory=dict)  # top-level key -> its line
    entries: tuple[int, ...] = ()  # connectors[i] -> its line


def _lines_of(loader: _StrictLoader, root: yaml.Node) -> Lines:
    if not isinstance(root, yaml.MappingNode):
        return Lines()
    keys: dict[object, int] = {}
    entries: tuple[int, ...] = ()
    for key_node, value_node in root.value:
        key = loader.construct_object(key_node, deep=True)
        keys[key] = _line(key_node)
        if key == "connectors" and isinstance(value_node, yaml.SequenceNode):
            entries = tuple(_line(entry) for entry in value_node.value)
    return Lines(keys, entries)


def _parse_yaml(text: str) -> tuple[object, Lines]:
    loader = _StrictLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, Lines()
        return loader.construct_document(root), _lines_of(loader, root)
    finally:
        loader.dispose()


def _read_text(path: Path) -> str | None:
    """The file's text (None if there is none), refused unparsed if it is not a regular file or is
    over MAX_FILE_BYTES. Opened non-blocking so a FIFO in its place cannot hang the open."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read: {error.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{path}: not a regular file; connectors.yaml must be a YAML file")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_FILE_BYTES + 1) if info.st_size <= MAX_FILE_BYTES else b""
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read: {error.strerror}") from None
    finally:
        os.close(fd)
    size = max(info.st_size, len(data))  # it may have grown since fstat
    if size > MAX_FILE_BYTES:
        raise ConfigError(
            f"{path}: {size} bytes is over the {MAX_FILE_BYTES} byte limit of connectors.yaml "
            "(about two thousand connectors): is this the right file?"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.start} cannot be read)") from None


def read_document(path: Path) -> tuple[object, Lines]:
    """connectors.yaml as YAML data and where its parts are; every way it can be unreadable is a
    ConfigError naming the file and, where there is one, the line."""
    text = _read_text(path)
    if text is None:
        return None, Lines()
    try:
        return _parse_yaml(text)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None


def _unknown_key(key: object, source: str, line: int | None) -> str:
    close = difflib.get_close_matches(str(key), TOP_LEVEL_KEYS, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return (
        f"{source}: unknown top-level key {_shown(key)}{_at(line)}: {hint}"
        f"connectors.yaml has one top-level key, 'connectors' (the list of connector entries)"
    )


def _entries(raw: object, source: str, lines: Lines = Lines()) -> list[dict]:
    """The connector entries, once the document has the right shape: a mapping whose only key is
    'connectors', holding a list of mappings. Every problem of shape is named at once."""
    if raw is None:
        return []
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping with a 'connectors' list at the top, got {_kind(raw)}")
    problems = [_unknown_key(key, source, lines.keys.get(key)) for key in raw if key not in TOP_LEVEL_KEYS]
    entries = raw.get("connectors", [])
    if not isinstance(entries, list):
        problems.append(
            f"{source}: expected a mapping with a 'connectors' list"
            f"{_at(lines.keys.get('connectors'))}, got {_kind(entries)}"
        )
        entries = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            line = lines.entries[index] if index < len(lines.entries) else None
            problems.append(f"{source}: connector #{index + 1}{_at(line)}: got {_kind(entry)}, not a mapping")
    if any(not isinstance(entry, dict) for entry in entries):
        problems.append(f"a connector entry is {ENTRY_SHAPE}")
    if problems:
        raise ConfigError("\n".join(problems))
    return entries


def _not_unicode(value: object) -> bool:
    """A string (anywhere inside the value) that UTF-8 cannot hold."""
    if isinstance(value, dict):
        return any(_not_unicode(k) or _not_unicode(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_not_unicode(v) for v in value)
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def parse_connectors(raw: object, source: str = CONNECTORS_FILE, lines: Lines = Lines()) -> list[Connector]:
    problems: list[str] = []
    connectors: list[Connector] = []
    for index, entry in enumerate(_entries(raw, source, lines)):
        name = entry.get("name")
        where = (
            f"{source}: connector {_shown(name)}"
            if isinstance(name, str) and name
            else f"{source}: connector #{index + 1}"
        )
        broken = [key for key, value in entry.items() if _not_unicode(key) or _not_unicode(value)]
        if broken:  # pydantic cannot even report on such a value: it raises UnicodeEncodeError
            problems.extend(
                f"{where}: field {_shown(key)}: holds a lone UTF-16 surrogate (an escape such as "
                "\\ud83d without its pair): write the text again"
                for key in broken
            )
            continue
        try:
            connectors.append(Connector.model_validate(entry))
        except ValidationError as error:
            problems.extend(_explain(error, where))
    seen: dict[str, str] = {}
    for connector in connectors:
        key = connector.dagster_name.lower()
        if key in seen:
            problems.append(
                f"{source}: connector {connector.name!r}: field 'name': duplicate of {seen[key]!r} "
                "(names must be unique, '-' and '_' counting as the same)"
            )
        seen[key] = connector.name
    if problems:
        raise ConfigError("\n".join(problems))
    return connectors


def load_connectors(home: Path) -> list[Connector]:
    path = home / CONNECTORS_FILE
    raw, lines = read_document(path)
    return parse_connectors(raw, str(path), lines)


def find_connector(home: Path, name: str) -> Connector:
    connectors = load_connectors(home)
    for connector in connectors:
        if connector.name == name:
            return connector
    known = ", ".join(c.name for c in connectors) or "none yet (create one with `entra-pipeline connector create`)"
    raise ConfigError(f"no connector named {name!r} in {home / CONNECTORS_FILE}; configured: {known}")


def _stored_entries(path: Path) -> list[dict]:
    raw, lines = read_document(path)
    return _entries(raw, str(path), lines)


def _write_entries(path: Path, entries: list) -> None:
    """Replace the file with these entries atomically. A symlinked connectors.yaml is written through
    to its target, so the link stays a link and the target is what changes; the temporary file sits
    beside the target (one file system for the rename) and is owner-only from its creation, as the
    file holds encrypted secrets."""
    text = yaml.safe_dump({"connectors": entries}, sort_keys=False, allow_unicode=True)
    try:
        target = path.resolve()
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except (OSError, RuntimeError) as error:  # RuntimeError: a symlink loop before Python 3.13
        raise ConfigError(f"{path}: cannot be written: {getattr(error, 'strerror', None) or error}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())  # the rename must not publish an empty file after a crash
        os.replace(tmp, target)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise ConfigError(f"{path}: cannot be written: {error.strerror}") from None
        raise


def delete_connector(home: Path, name: str) -> None:
    path = home / CONNECTORS_FILE
    _write_entries(path, [e for e in _stored_entries(path) if e.get("name") != name])


def save_connector(home: Path, connector: Connector, replace: bool = False) -> Path:
    """Add (or replace) one connector, validating the whole file before writing it."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / CONNECTORS_FILE
    entries = _stored_entries(path)
    if replace:
        entries = [e for e in entries if e.get("name") != connector.name]
    entries.append(connector.model_dump(mode="json", exclude_none=True, exclude_defaults=False))
    parse_connectors({"connectors": entries}, str(path))
    _write_entries(path, entries)
    return path
