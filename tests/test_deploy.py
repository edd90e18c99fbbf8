"""The production compose file (it cannot be pulled here): its settings are real shopqa settings."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from shopqa.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"


def _env_names(service: dict) -> set[str]:
    env = service.get("environment") or {}
    return set(env) if isinstance(env, dict) else {item.split("=", 1)[0] for item in env}


def test_compose_configures_shopqa_with_existing_settings_only():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"postgres", "redis", "llm", "shopqa", "nginx"} <= set(services)
    assert services["postgres"]["image"].startswith("pgvector/pgvector")
    names = set().union(*(_env_names(s) for s in services.values()))
    shopqa_names = {n for n in names if n.startswith("SHOPQA_")}
    fields = {"SHOPQA_" + f.upper() for f in Settings.model_fields}
    assert shopqa_names and shopqa_names <= fields, sorted(shopqa_names - fields)
    # The shared engines are all configured, and replicas agree on the key that signs cookies.
    assert {"SHOPQA_DATABASE_URL", "SHOPQA_REDIS_URL", "SHOPQA_LLM_BASE_URL", "SHOPQA_SECRET_KEY"} <= shopqa_names
    assert services["shopqa"]["deploy"]["replicas"]
    # Replicas are stateless: the index too comes from Postgres, so they mount nothing.
    assert "volumes" not in services["shopqa"]
    # Every variable the file reads from the operator's environment is documented in the README.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{(\w+)", (DEPLOY / "docker-compose.yml").read_text(encoding="utf-8")))
    assert sorted(n for n in used if n not in readme) == []


def test_nginx_streams_answers_unbuffered():
    conf = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    assert "proxy_buffering off;" in conf and "proxy_pass http://shopqa;" in conf
