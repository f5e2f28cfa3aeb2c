"""deploy/: the Kubernetes shape (Dagster's Helm chart, the code-location image), checked offline.

No cluster, no Docker engine and no network but PyPI in CI, so what is checked is what can be
checked without them:
- deploy/helm/values.yaml against a model of the chart's values for the keys we set (field names
  from dagster/dagster 1.13's values.yaml and the pydantic models its values.schema.json is
  generated from: helm/dagster/schema/schema/charts/ in github.com/dagster-io/dagster), extra keys
  forbidden so a misspelt key fails here instead of being ignored by Helm;
- the dagster.yaml the chart renders from those values (the parts of its instance templates we
  depend on, re-stated below) against Dagster 1.13's own instance-config validation, and against
  dagster.postgres.yaml's run-queue limits;
- the environment every pod that runs our code gets (code server, run pods) against the names
  the code reads;
- deploy/Dockerfile against values.yaml and deploy/build.sh;
- deploy/build.sh run as a plain script into a temporary folder, and the code location loaded
  from what it built (slow: a fresh virtualenv).
What is not checked (deploy/README.md says so too): `helm template` against the real chart, the
image build itself, anything a cluster does.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from entra_pipeline.config import HOME_ENV, KEY_ENV
from entra_pipeline.defs.runner import DAGSTER_HOME_ENV
from entra_pipeline.store import DATA_ENV, STORE_ENV

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
VALUES = DEPLOY / "helm" / "values.yaml"
OUR_SETTINGS = {STORE_ENV, KEY_ENV, HOME_ENV, DAGSTER_HOME_ENV, DATA_ENV}
# Settings that hold credentials: only ever from a Kubernetes Secret.
SECRET_SETTINGS = {STORE_ENV, KEY_ENV, "AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_CONNECTION_STRING"}
IMAGE_HOME = "/opt/entra-pipeline/home"  # where deploy/build.sh puts connectors.yaml under /opt/entra-pipeline


# --------------------------------------------------------------------------- the chart's values
class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Image(Strict):  # utils/kubernetes.py Image
    repository: str
    tag: str
    pullPolicy: Literal["Always", "IfNotPresent", "Never"] | None = None


class EnvSource(Strict):  # ConfigMapEnvSource / SecretEnvSource
    name: str
    optional: bool | None = None


class IncludeConfigInLaunchedRuns(Strict):
    enabled: bool


class UserDeployment(Strict):  # dagster_user_deployments/subschema/user_deployments.py
    name: str
    image: Image
    dagsterApiGrpcArgs: list[str] | None = None
    codeServerArgs: list[str] | None = None
    includeConfigInLaunchedRuns: IncludeConfigInLaunchedRuns | None = None
    deploymentNamespace: str | None = None
    port: int
    replicaCount: int | None = Field(default=None, gt=0)
    env: dict[str, str] | None = None
    envConfigMaps: list[EnvSource] | None = None
    envSecrets: list[EnvSource] | None = None
    annotations: dict[str, str] | None = None
    labels: dict[str, str] | None = None
    nodeSelector: dict[str, str] | None = None
    podSecurityContext: dict[str, Any] | None = None
    securityContext: dict[str, Any] | None = None
    resources: dict[str, Any] | None = None
    volumes: list[dict[str, Any]] | None = None
    volumeMounts: list[dict[str, Any]] | None = None


class UserDeployments(Strict):
    enabled: bool
    deployments: list[UserDeployment] = Field(min_length=1)


class RunK8sConfig(Strict):  # subschema/run_launcher.py RunK8sConfig
    containerConfig: dict[str, Any] | None = None
    podSpecConfig: dict[str, Any] | None = None
    podTemplateSpecMetadata: dict[str, Any] | None = None
    jobSpecConfig: dict[str, Any] | None = None
    jobMetadata: dict[str, Any] | None = None


class K8sRunLauncherConfig(Strict):  # subschema/run_launcher.py K8sRunLauncherConfig
    imagePullPolicy: Literal["Always", "IfNotPresent", "Never"] | None = None
    jobNamespace: str | None = None
    loadInclusterConfig: bool | None = None
    envConfigMaps: list[EnvSource] | None = None
    envSecrets: list[EnvSource] | None = None
    envVars: list[str] | None = None
    volumeMounts: list[dict[str, Any]] | None = None
    volumes: list[dict[str, Any]] | None = None
    labels: dict[str, str] | None = None
    failPodOnRunFailure: bool | None = None
    resources: dict[str, Any] | None = None
    securityContext: dict[str, Any] | None = None
    runK8sConfig: RunK8sConfig | None = None


class RunLauncherConfig(Strict):
    k8sRunLauncher: K8sRunLauncherConfig


class RunLauncher(Strict):
    type: Literal["K8sRunLauncher"]
    config: RunLauncherConfig


class TagLimitValue(Strict):
    applyLimitPerUniqueValue: bool


class TagConcurrencyLimit(Strict):  # subschema/daemon.py and concurrency.py
    key: str
    value: str | TagLimitValue | None = None
    limit: int


class QueuedRunCoordinatorConfig(Strict):  # subschema/daemon.py
    maxConcurrentRuns: int | None = None
    tagConcurrencyLimits: list[TagConcurrencyLimit] | None = None
    dequeueIntervalSeconds: int | None = None
    dequeueNumWorkers: int | None = None
    dequeueUseThreads: bool | None = None


class RunCoordinatorConfig(Strict):
    queuedRunCoordinator: QueuedRunCoordinatorConfig


class RunCoordinator(Strict):
    enabled: bool
    type: Literal["QueuedRunCoordinator"]
    config: RunCoordinatorConfig


class RunMonitoring(Strict):  # the keys templates/configmap-instance.yaml reads
    enabled: bool
    startTimeoutSeconds: int | None = None
    cancelTimeoutSeconds: int | None = None
    maxResumeRunAttempts: int | None = None
    pollIntervalSeconds: int | None = None
    freeSlotsAfterRunEndSeconds: int | None = None


class Daemon(Strict):
    runCoordinator: RunCoordinator
    runMonitoring: RunMonitoring


class Pools(Strict):  # subschema/concurrency.py
    defaultLimit: int | None = None
    granularity: Literal["run", "op"] | None = None
    opGranularityRunBuffer: int | None = None


class Runs(Strict):
    maxConcurrentRuns: int | None = None
    tagConcurrencyLimits: list[TagConcurrencyLimit] = []


class Concurrency(Strict):
    enabled: bool
    pools: Pools = Pools()
    runs: Runs = Runs()


class PostgreSQLService(Strict):
    port: int


class PostgreSQL(Strict):  # subschema/postgresql.py
    enabled: bool
    postgresqlHost: str
    postgresqlUsername: str
    postgresqlPassword: str
    postgresqlDatabase: str
    postgresqlParams: dict[str, Any] = {}
    postgresqlScheme: str | None = None
    service: PostgreSQLService


class Global(Strict):  # subschema/global_.py
    postgresqlSecretName: str
    dagsterHome: str
    serviceAccountName: str | None = None


class PythonLogs(Strict):  # subschema/python_logs.py
    pythonLogLevel: Literal["CRITICAL", "FATAL", "ERROR", "WARN", "WARNING", "INFO", "DEBUG", "NOTSET"] | None = None
    managedPythonLoggers: list[str] | None = None
    dagsterHandlerConfig: dict[str, Any] | None = None


class Telemetry(Strict):
    enabled: bool


class Values(Strict):  # charts/dagster/values.py DagsterHelmValues, the keys we set
    global_: Global = Field(alias="global")
    generatePostgresqlPasswordSecret: bool
    postgresql: PostgreSQL
    telemetry: Telemetry
    pythonLogs: PythonLogs
    userDeployments: UserDeployments = Field(alias="dagster-user-deployments")
    runLauncher: RunLauncher
    dagsterDaemon: Daemon
    concurrency: Concurrency


def raw_values() -> dict:
    return yaml.safe_load(VALUES.read_text())


@pytest.fixture(scope="module")
def values() -> Values:
    return Values.model_validate(raw_values())


@pytest.fixture(scope="module")
def deployment(values) -> UserDeployment:
    (only,) = values.userDeployments.deployments
    return only


def manifests(name: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all((DEPLOY / "k8s" / name).read_text()) if doc]


def test_values_match_the_charts_schema_for_every_key_we_set(values):
    assert values.runLauncher.type == "K8sRunLauncher"
    assert values.postgresql.enabled is False and values.generatePostgresqlPasswordSecret is False
    assert values.telemetry.enabled is False and values.dagsterDaemon.runMonitoring.enabled is True
    assert values.userDeployments.enabled


@pytest.mark.parametrize(
    "path, typo",
    [
        (("runLauncher", "config", "k8sRunLauncher"), "envSecret"),
        (("concurrency", "pools"), "default_limit"),  # dagster.yaml's spelling, not the chart's
        (("dagster-user-deployments", "deployments", 0), "dagsterApiGRPCArgs"),
        ((), "dagsterDeamon"),
    ],
)
def test_a_misspelt_key_is_refused_not_ignored(path, typo):
    raw = raw_values()
    node = raw
    for part in path:
        node = node[part]
    node[typo] = node.get(typo, 1)
    with pytest.raises(ValidationError, match=re.escape(typo)):
        Values.model_validate(raw)


# --------------------------------------------------------------------------- the instance it renders
def chart_instance(values: Values) -> dict:
    """The parts of the dagster.yaml the chart renders (templates/configmap-instance.yaml and
    templates/helpers/instance/_{postgresql,run-launcher,run-coordinator,concurrency}.tpl) that
    these values decide. The run coordinator follows the template as fixed for dagster-io/dagster
    issue 33225: with `concurrency.enabled`, unset run-queue fields are left out."""
    pg = values.postgresql
    postgres = {
        "postgres_db": {
            "username": pg.postgresqlUsername,
            "password": {"env": "DAGSTER_PG_PASSWORD"},
            "hostname": pg.postgresqlHost,
            "db_name": pg.postgresqlDatabase,
            "port": pg.service.port,
            "params": pg.postgresqlParams,
            **({"scheme": pg.postgresqlScheme} if pg.postgresqlScheme else {}),
        }
    }
    launcher = values.runLauncher.config.k8sRunLauncher
    k8s = {
        "load_incluster_config": True,
        "job_namespace": "entra",
        "image_pull_policy": "IfNotPresent",
        "service_account_name": "dagster",
        "dagster_home": values.global_.dagsterHome,
        "instance_config_map": "dagster-instance",
        "postgres_password_secret": values.global_.postgresqlSecretName,
        "env_config_maps": [s.name for s in launcher.envConfigMaps or []],
        "env_secrets": [s.name for s in launcher.envSecrets or []],
        **({"fail_pod_on_run_failure": True} if launcher.failPodOnRunFailure else {}),
    }
    instance: dict[str, Any] = {
        "scheduler": {"module": "dagster.core.scheduler", "class": "DagsterDaemonScheduler"},
        **{
            kind: {"module": f"dagster_postgres.{module}", "class": cls, "config": postgres}
            for kind, module, cls in (
                ("run_storage", "run_storage", "PostgresRunStorage"),
                ("event_log_storage", "event_log", "PostgresEventLogStorage"),
                ("schedule_storage", "schedule_storage", "PostgresScheduleStorage"),
            )
        },
        "run_launcher": {"module": "dagster_k8s", "class": "K8sRunLauncher", "config": k8s},
        "telemetry": {"enabled": values.telemetry.enabled},
    }
    coordinator = values.dagsterDaemon.runCoordinator
    if coordinator.enabled:
        queued = coordinator.config.queuedRunCoordinator
        concurrency_on = values.concurrency.enabled
        config: dict[str, Any] = {}
        if not concurrency_on or queued.maxConcurrentRuns is not None:
            config["max_concurrent_runs"] = -1 if queued.maxConcurrentRuns is None else queued.maxConcurrentRuns
        if queued.tagConcurrencyLimits:
            config["tag_concurrency_limits"] = [
                limit.model_dump(exclude_none=True) for limit in queued.tagConcurrencyLimits
            ]
        for key, field in (
            ("dequeue_interval_seconds", "dequeueIntervalSeconds"),
            ("dequeue_use_threads", "dequeueUseThreads"),
            ("dequeue_num_workers", "dequeueNumWorkers"),
        ):
            if getattr(queued, field):
                config[key] = getattr(queued, field)
        instance["run_coordinator"] = {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
            **({"config": config} if config else {}),
        }
    if values.pythonLogs.managedPythonLoggers or values.pythonLogs.pythonLogLevel:
        instance["python_logs"] = {
            "managed_python_loggers": values.pythonLogs.managedPythonLoggers,
            "python_log_level": values.pythonLogs.pythonLogLevel,
        }
    monitoring = values.dagsterDaemon.runMonitoring
    if monitoring.enabled:  # the chart's defaults where the values set nothing
        instance["run_monitoring"] = {
            "enabled": True,
            "start_timeout_seconds": monitoring.startTimeoutSeconds or 300,
            "poll_interval_seconds": monitoring.pollIntervalSeconds or 120,
            "free_slots_after_run_end_seconds": monitoring.freeSlotsAfterRunEndSeconds or 0,
        }
    if values.concurrency.enabled:
        pools, runs = values.concurrency.pools, values.concurrency.runs
        block: dict[str, Any] = {}
        if pools.defaultLimit is not None:
            block["pools"] = {"default_limit": pools.defaultLimit}
        if runs.maxConcurrentRuns is not None or runs.tagConcurrencyLimits:
            block["runs"] = {
                **({"max_concurrent_runs": runs.maxConcurrentRuns} if runs.maxConcurrentRuns is not None else {}),
                **(
                    {
                        "tag_concurrency_limits": [
                            limit.model_dump(exclude_none=True) for limit in runs.tagConcurrencyLimits
                        ]
                    }
                    if runs.tagConcurrencyLimits
                    else {}
                ),
            }
        instance["concurrency"] = block
    return instance


def validate_instance(config: dict, folder: Path) -> dict:
    """Dagster 1.13's own checks of a dagster.yaml: its schema and the rules between sections."""
    from dagster._core.instance.config import dagster_instance_config

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dagster.yaml").write_text(yaml.safe_dump(config))
    validated, _ = dagster_instance_config(str(folder))
    return validated


@pytest.mark.parametrize(
    "chart_defaults",
    [{}, {"dequeueUseThreads": True, "dequeueNumWorkers": 4}],
    ids=["ours-only", "with-dequeue-threads"],
)
def test_the_instance_the_chart_renders_is_one_dagster_accepts(values, tmp_path, chart_defaults):
    # The chart's own defaults for the queued run coordinator's other fields merge with ours; the
    # dequeue settings are not run-queue limits and may sit next to the concurrency section.
    queued = values.dagsterDaemon.runCoordinator.config.queuedRunCoordinator
    merged = values.model_copy(deep=True)
    merged.dagsterDaemon.runCoordinator.config.queuedRunCoordinator = queued.model_copy(update=chart_defaults)
    validated = validate_instance(chart_instance(merged), tmp_path)
    assert validated["concurrency"]["pools"]["default_limit"] == 1
    assert "max_concurrent_runs" not in validated["run_coordinator"].get("config", {})


def test_run_queue_fields_next_to_the_concurrency_section_would_stop_the_daemon(values, tmp_path):
    # Why values.yaml leaves the queued run coordinator's limits empty: the chart before the fix for
    # issue 33225 rendered max_concurrent_runs: -1 anyway, and Dagster refuses both together.
    from dagster._core.errors import DagsterInvalidConfigError

    config = chart_instance(values)
    config["run_coordinator"]["config"] = {"max_concurrent_runs": -1}
    with pytest.raises(DagsterInvalidConfigError, match="incompatible with the `concurrency > runs` config"):
        validate_instance(config, tmp_path)


def test_the_rendered_instance_keeps_dagster_postgres_yamls_limits_and_settings(values):
    reference = yaml.safe_load((ROOT / "dagster.postgres.yaml").read_text())
    rendered = chart_instance(values)
    assert (
        rendered["concurrency"]["runs"]["tag_concurrency_limits"]
        == reference["concurrency"]["runs"]["tag_concurrency_limits"]
    )
    assert (
        rendered["concurrency"]["runs"]["max_concurrent_runs"] == 10
    )  # Dagster's default: the same as the reference's
    assert rendered["telemetry"] == reference["telemetry"]
    assert rendered["python_logs"] == reference["python_logs"]
    assert rendered["run_monitoring"]["enabled"] == reference["run_monitoring"]["enabled"]
    assert (
        rendered["run_storage"]["config"]["postgres_db"]["scheme"]
        == reference["storage"]["postgres"]["postgres_db"]["scheme"]
    )


def test_one_sync_step_per_tenant_is_what_the_default_pool_limit_gives(values, tmp_path):
    from entra_pipeline.config import Connector, save_connector
    from entra_pipeline.defs import build_definitions

    assert values.concurrency.pools.defaultLimit == 1
    home = tmp_path / "home"
    for name in ("contoso-prod", "fabrikam"):
        save_connector(
            home,
            Connector(
                name=name,
                tenant_id="contoso.example",
                client_id="33333333-3333-3333-3333-333333333333",
                client_secret_env="UNUSED",
            ),
            replace=True,
        )
    defs = build_definitions(home)
    pools = {
        node.name: node.definition.pool
        for job in defs.resolve_all_job_defs()
        for node in job.graph.nodes
        if node.definition.pool
    }
    # One pool per tenant and no limit set for any in values.yaml: each gets the default, 1.
    assert set(pools.values()) == {"msgraph_contoso_prod", "msgraph_fabrikam"}, pools
    # and a slot a lost step held is freed once its run ended, or the tenant would queue for ever
    assert chart_instance(values)["run_monitoring"]["free_slots_after_run_end_seconds"] > 0


# --------------------------------------------------------------------------- the environment
def env_sources() -> dict[str, dict[str, str]]:
    """Each ConfigMap and Secret of deploy/k8s/secrets.example.yaml: its keys and where they come from."""
    found = {}
    for doc in manifests("secrets.example.yaml"):
        data = doc.get("data") or doc.get("stringData") or {}
        found[doc["metadata"]["name"]] = {key: doc["kind"] for key in data}
    return found


def pod_env(names_sources: list[EnvSource] | None, literal: dict[str, str] | None) -> dict[str, str]:
    """Environment variable -> where it comes from (Secret, ConfigMap, env), as envFrom makes it."""
    sources = env_sources()
    env = {name: "env" for name in literal or {}}
    for source in names_sources or []:
        assert source.name in sources, f"{source.name} is not defined in deploy/k8s/secrets.example.yaml"
        env.update(sources[source.name])
    return env


def code_server_env(deployment: UserDeployment) -> dict[str, str]:
    return pod_env([*(deployment.envConfigMaps or []), *(deployment.envSecrets or [])], deployment.env)


def run_pod_env(values: Values, deployment: UserDeployment) -> dict[str, str]:
    launcher = values.runLauncher.config.k8sRunLauncher
    env = pod_env(
        [*(launcher.envConfigMaps or []), *(launcher.envSecrets or [])], {name: "" for name in launcher.envVars or []}
    )
    if deployment.includeConfigInLaunchedRuns and deployment.includeConfigInLaunchedRuns.enabled:
        env.update(code_server_env(deployment))
    return env


@pytest.mark.parametrize("pod", ["code server", "run pod"])
def test_every_pod_that_runs_our_code_gets_exactly_the_settings_the_code_reads(values, deployment, pod):
    env = code_server_env(deployment) if pod == "code server" else run_pod_env(values, deployment)
    ours = {name for name in env if name.startswith("ENTRA_PIPELINE_")}
    assert ours == OUR_SETTINGS, f"missing {OUR_SETTINGS - ours}, unknown {ours - OUR_SETTINGS}"
    for name in SECRET_SETTINGS & set(env):
        assert env[name] == "Secret", f"{name} comes from a {env[name]}, not a Secret"
    # The data layer reaches Azure through adlfs: an account name and its key (or workload identity).
    assert env.get("AZURE_STORAGE_ACCOUNT_NAME") == "ConfigMap" and env.get("AZURE_STORAGE_ACCOUNT_KEY") == "Secret"


def test_run_pods_get_the_settings_even_without_the_code_servers_config(values, deployment):
    launcher = values.runLauncher.config.k8sRunLauncher
    env = pod_env([*(launcher.envConfigMaps or []), *(launcher.envSecrets or [])], None)
    # the two image-layout settings come from the image's own ENV (test_the_dockerfile_...)
    assert OUR_SETTINGS - {HOME_ENV, DAGSTER_HOME_ENV} <= set(env)


def test_run_pods_are_sized_by_the_run_launcher_alone(values, deployment):
    # With includeConfigInLaunchedRuns the code server's container settings reach every run pod and
    # are merged over the run launcher's: resources on the code server would size the syncs too.
    assert deployment.includeConfigInLaunchedRuns.enabled and deployment.resources is None
    container = values.runLauncher.config.k8sRunLauncher.runK8sConfig.containerConfig
    assert container["resources"]["limits"]["memory"]


def test_paths_in_the_environment_are_the_images_and_the_charts(values, deployment):
    assert deployment.env[HOME_ENV] == IMAGE_HOME
    # `entra-pipeline status` and `logs` in a code-server pod read the instance the chart mounts
    assert deployment.env[DAGSTER_HOME_ENV] == values.global_.dagsterHome


def test_the_key_vault_variant_syncs_the_same_secrets_under_the_same_keys():
    (provider,) = manifests("keyvault.example.yaml")
    synced = {obj["secretName"]: {item["key"] for item in obj["data"]} for obj in provider["spec"]["secretObjects"]}
    declared = {
        obj.strip().split("\n")[0].split(":", 1)[1].strip()
        for obj in yaml.safe_load(provider["spec"]["parameters"]["objects"])["array"]
    }
    used = {item["objectName"] for obj in provider["spec"]["secretObjects"] for item in obj["data"]}
    assert used == declared
    secrets = {
        name: set(keys) for name, keys in env_sources().items() if all(kind == "Secret" for kind in keys.values())
    }
    assert synced == secrets


def test_no_real_secret_is_in_deploy():
    for doc in manifests("secrets.example.yaml"):
        for key, value in (doc.get("stringData") or {}).items():
            assert "REPLACE_ME" in value, f"{doc['metadata']['name']}/{key} is not a placeholder"
        assert "data" not in doc or doc["kind"] == "ConfigMap", "a Secret with base64 data: use stringData placeholders"
    assert raw_values()["postgresql"]["postgresqlPassword"] == ""


def test_the_example_store_url_is_one_the_postgres_extra_can_open():
    import sqlalchemy as sa

    (secret,) = [
        doc for doc in manifests("secrets.example.yaml") if doc["metadata"]["name"] == "entra-pipeline-secrets"
    ]
    url = sa.make_url(secret["stringData"][STORE_ENV])
    assert url.drivername == "postgresql+psycopg2" and url.query.get("schema") == "entra_pipeline"


# --------------------------------------------------------------------------- the image
def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) per Dockerfile instruction, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_the_dockerfile_agrees_with_values_and_build_sh(values, deployment):
    instructions = dockerfile()
    by = lambda kind: [args for instr, args in instructions if instr == kind]  # noqa: E731
    assert by("FROM") == ["python:3.11-slim"]
    (user,) = by("USER")
    assert user.split(":")[0] == str(deployment.podSecurityContext["runAsUser"]) != "0"
    assert any("deploy/build.sh /src /opt/entra-pipeline /src/config" in run for run in by("RUN"))
    env = {}
    for args in by("ENV"):
        for pair in shlex.split(args):
            key, _, value = pair.partition("=")
            env[key] = value
    assert env[HOME_ENV] == deployment.env[HOME_ENV] and env[DAGSTER_HOME_ENV] == deployment.env[DAGSTER_HOME_ENV]
    assert env["DAGSTER_HOME"] == values.global_.dagsterHome
    command = json.loads(by("ENTRYPOINT")[0]) + json.loads(by("CMD")[0])
    assert command[:3] == ["dagster", "api", "grpc"]
    assert (
        command[command.index("--module-name") + 1]
        == deployment.dagsterApiGrpcArgs[deployment.dagsterApiGrpcArgs.index("--module-name") + 1]
        == "entra_pipeline.definitions"
    )
    assert command[command.index("--port") + 1] == str(deployment.port) == by("EXPOSE")[0]


def test_the_build_context_sends_only_what_the_dockerfile_copies():
    rules = [
        line.strip()
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*", "an allowlist: everything else (.venv, homes with keys) stays out of the build"
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    default_config = next(
        args.split("=", 1)[1] for instr, args in dockerfile() if instr == "ARG" and args.startswith("CONFIG_DIR=")
    )
    for instr, args in dockerfile():
        if instr == "COPY":
            *sources, _ = shlex.split(args.replace("${CONFIG_DIR}", default_config))
            for source in sources:
                assert any(source == rule or source.startswith(rule + "/") for rule in allowed), source


def connector_add(home: Path, env: dict, *args: str, stdin: str | None = None) -> None:
    cli = Path(sys.executable).with_name("entra-pipeline")
    subprocess.run(
        [str(cli), "connector", "add", "--home", str(home), *args],
        input=stdin,
        text=True,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )


def clean_env(**extra: str) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ENTRA_PIPELINE_", "DAGSTER_", "AZURE_")) and k not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    return {**env, **extra}


LIST_DEFINITIONS = """
import json
import entra_pipeline, dagster_k8s, dagster_postgres
from entra_pipeline.config import home_folder
from entra_pipeline.defs import build_definitions
from entra_pipeline.cli.home_permissions import unsafe_permissions
defs = build_definitions(home_folder())
print(json.dumps({
    "package": entra_pipeline.__file__,
    "jobs": sorted(job.name for job in defs.resolve_all_job_defs()),
    "schedules": sorted(s.name for s in defs.schedules or []),
    "assets": sorted(key.to_user_string() for key in defs.resolve_all_asset_keys()),
    "warnings": unsafe_permissions(home_folder()),
}))
"""


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_build_sh_builds_a_code_location_that_loads_with_nothing_but_its_environment(tmp_path):
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    config = tmp_path / "config"
    cli_env = clean_env(**{KEY_ENV: key})
    schedule = [
        "--occurs",
        "recurring",
        "--start",
        "2026-12-01 02:00",
        "--end",
        "2027-12-01 02:00",
        "--every",
        "6h",
        "--timezone",
        "UTC",
    ]
    connector_add(
        config,
        cli_env,
        "--name",
        "contoso-prod",
        "--tenant-id",
        "contoso.example",
        "--client-id",
        "11111111-1111-1111-1111-111111111111",
        "--client-secret-env",
        "CONTOSO_PROD_SECRET",
        "--asset-types",
        "identities_with_security_posture",
        *schedule,
    )
    connector_add(
        config,
        cli_env,
        "--name",
        "fabrikam",
        "--tenant-id",
        "fabrikam.example",
        "--client-id",
        "22222222-2222-2222-2222-222222222222",
        "--client-secret-stdin",
        "--require-manual-sync",
        stdin="placeholder-not-a-secret\n",
    )

    prefix = tmp_path / "opt"
    started = time.monotonic()
    build = subprocess.run(
        ["bash", str(DEPLOY / "build.sh"), str(ROOT), str(prefix), str(config)],
        env=clean_env(PYTHON=sys._base_executable),
        capture_output=True,
        text=True,
        timeout=840,
    )
    took = time.monotonic() - started
    print(f"deploy/build.sh: {took:.0f} s")
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert "2 connector(s) in connectors.yaml: contoso-prod, fabrikam" in build.stdout
    assert not list(ROOT.glob("build")), "build.sh built in the checkout"

    home = prefix / "home"
    before = sorted((p.relative_to(home), p.stat().st_mtime_ns) for p in home.rglob("*"))
    # What a pod has: the image's paths, the ConfigMap's and Secret's settings; no home carried over.
    pod_env = clean_env(
        **{
            HOME_ENV: str(home),
            DAGSTER_HOME_ENV: str(tmp_path / "dagster_home"),
            "DAGSTER_HOME": str(tmp_path / "dagster_home"),
            KEY_ENV: key,
            STORE_ENV: f"sqlite:///{tmp_path / 'store.sqlite'}",
            DATA_ENV: str(tmp_path / "data"),
            "CONTOSO_PROD_SECRET": "placeholder-not-a-secret",
        }
    )
    (tmp_path / "dagster_home").mkdir()
    (tmp_path / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    venv = prefix / "venv" / "bin"
    validate = subprocess.run(
        [str(venv / "dagster"), "definitions", "validate", "-m", "entra_pipeline.definitions"],
        env=pod_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert validate.returncode == 0, validate.stdout[-3000:] + validate.stderr[-3000:]
    listed = subprocess.run(
        [str(venv / "python"), "-c", LIST_DEFINITIONS],
        env=pod_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert listed.returncode == 0, listed.stderr[-3000:]
    found = json.loads(listed.stdout.strip().splitlines()[-1])

    assert found["package"].startswith(str(prefix)), "the code came from the checkout, not the build"
    assert {
        "contoso_prod__sync_job",
        "contoso_prod__test_connection",
        "fabrikam__sync_job",
        "fabrikam__test_connection",
    } <= set(found["jobs"]), found["jobs"]
    assert found["schedules"] == ["contoso_prod__schedule"]  # fabrikam: Require Manual Sync
    assert {
        "contoso-prod/raw_users",
        "contoso-prod/raw_applications",
        "contoso-prod/records_users",
        "contoso-prod/upload",
        "fabrikam/raw_users",
        "fabrikam/upload",
    } <= set(found["assets"]), found["assets"]
    assert not [a for a in found["assets"] if a.startswith("fabrikam/raw_applications")]
    assert found["warnings"] == []
    after = sorted((p.relative_to(home), p.stat().st_mtime_ns) for p in home.rglob("*"))
    assert after == before, "loading the code location wrote into the image's home"
