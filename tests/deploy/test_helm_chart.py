"""The Helm chart lints, renders, and every object it renders is valid for Kubernetes; the keys of
personal data reach profiles alone; scoring and alerts scale no further than the partitions."""

import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "customer-pulse"
HELM_SH = ROOT / "deploy" / "helm" / "helm.sh"
KUBERNETES_VERSIONS = ["1.29", "1.33"]
VALUES = [
    "--set", "personalDataKeys.encryptionKeys=test-fernet-key", "--set", "personalDataKeys.hashKey=test-hash-key",
    "--set", "serviceKeys.surveyLinkKey=test-link-key", "--set", "serviceKeys.alertsSecretKeys=test-alerts-key",
    *[arg for name in ("profiles", "feedback", "scoring", "alerts", "auth")
      for arg in ("--set", f"databases.urls.{name}=postgresql+asyncpg://pulse:secret@postgres:5432/pulse_{name}")],
]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def helm() -> str:
    built = subprocess.run([HELM_SH], capture_output=True, text=True, timeout=1800)
    assert built.returncode == 0, built.stderr
    return built.stdout.strip()


def render(helm: str, *extra: str, version: str = KUBERNETES_VERSIONS[-1], values: list[str] = VALUES) -> subprocess.CompletedProcess:
    command = [helm, "template", "pulse", str(CHART), "--kube-version", f"{version}.0", *values, *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def rendered_objects(helm: str, version: str) -> list[dict]:
    rendered = render(helm, version=version)
    assert rendered.returncode == 0, rendered.stderr
    return [document for document in yaml.safe_load_all(rendered.stdout) if document]


@pytest.fixture(scope="module")
def objects(helm) -> list[dict]:
    return rendered_objects(helm, KUBERNETES_VERSIONS[-1])


def named(objects: list[dict], kind: str) -> dict[str, dict]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


def containers(deployment: dict) -> list[dict]:
    return deployment["spec"]["template"]["spec"]["containers"]


def env_names(container: dict) -> set[str]:
    return {variable["name"] for variable in container.get("env", [])}


def test_the_chart_passes_helm_lint(helm):
    linted = subprocess.run([helm, "lint", "--strict", str(CHART), *VALUES], capture_output=True, text=True, timeout=120)
    assert linted.returncode == 0, linted.stdout + linted.stderr


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_rendered_object_is_valid_against_the_kubernetes_schemas(helm, version):
    objects = rendered_objects(helm, version)
    assert {obj["kind"] for obj in objects} >= {"Deployment", "Service", "HorizontalPodAutoscaler", "Secret", "Job"}
    for obj in objects:
        kubernetes_validate.validate(obj, version, strict=True)


def test_a_wrong_object_fails_the_schema_check(objects):
    """The check above can fail: a Deployment with a misspelt field is refused."""
    deployment = dict(next(obj for obj in objects if obj["kind"] == "Deployment"))
    deployment["spec"] = {**deployment["spec"], "replica": 2}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def test_each_service_has_probes_resources_and_scrape_annotations(objects):
    deployments = named(objects, "Deployment")
    assert sorted(deployments) == [f"pulse-customer-pulse-{s}" for s in ("alerts", "feedback", "profiles", "scoring")]
    for deployment in deployments.values():
        [container] = containers(deployment)
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert {"cpu", "memory"} <= set(container["resources"]["requests"]) and {"cpu", "memory"} <= set(container["resources"]["limits"])
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(container["ports"][0]["containerPort"])


def test_only_profiles_receives_the_keys_of_personal_data(objects):
    keys = {"PULSE_ENCRYPTION_KEYS", "PULSE_HASH_KEY"}
    own = {"feedback": {"PULSE_SURVEY_LINK_KEY"}, "alerts": {"PULSE_ALERTS_SECRET_KEYS"}}
    for name, deployment in named(objects, "Deployment").items():
        service = name.rsplit("-", 1)[1]
        given = env_names(containers(deployment)[0])
        assert given & keys == (keys if service == "profiles" else set()), name
        assert given & {"PULSE_SURVEY_LINK_KEY", "PULSE_ALERTS_SECRET_KEYS"} == own.get(service, set()), name
    for job in named(objects, "Job").values():
        assert not env_names(job["spec"]["template"]["spec"]["containers"][0]) & keys


def test_scoring_and_alerts_autoscale_within_the_partition_count(objects, helm):
    autoscalers = named(objects, "HorizontalPodAutoscaler")
    assert sorted(autoscalers) == ["pulse-customer-pulse-alerts", "pulse-customer-pulse-scoring"]
    assert all(hpa["spec"]["maxReplicas"] <= 12 for hpa in autoscalers.values())
    too_many = render(helm, "--set", "services.scoring.autoscaling.maxReplicas=24")
    assert too_many.returncode != 0
    assert "exceeds kafka.partitions" in too_many.stderr


def test_migrations_run_once_per_release_before_the_new_pods(objects):
    jobs = named(objects, "Job")
    assert len(jobs) == 4
    for job in jobs.values():
        assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
        [container] = job["spec"]["template"]["spec"]["containers"]
        assert container["command"][:2] == ["pulse", "migrate"]
    database_secret = named(objects, "Secret")["pulse-customer-pulse-databases"]
    assert int(database_secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < 0, "the Jobs read it, so it comes first"


def test_the_chart_refuses_to_render_without_the_keys(helm):
    bare = render(helm, values=[])
    assert bare.returncode != 0
    assert "databases.urls" in bare.stderr or "personalDataKeys" in bare.stderr
