"""Calls to Chatwoot's application API on behalf of the agent bot, with a bounded timeout and retries.

The bot posts messages (``POST /api/v1/accounts/{a}/conversations/{c}/messages``) and opens
conversations for the agents (``POST .../conversations/{c}/toggle_status``), authenticated with
the bot's ``api_access_token`` header. A 5xx, a 408/429 or a connection error is retried a few
times with backoff; anything that still fails raises ``ChatwootError`` saying whether a later
attempt could succeed, so the outbox keeps the action for later instead of losing it.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any

import requests

log = logging.getLogger("shopqa.chatwoot")

# Statuses worth another try: Chatwoot or its proxy is down or busy, or the bot token is being
# fixed by an operator (401/403), which is never the message's fault.
RETRY_LATER = {401, 403, 408, 425, 429}


class ChatwootError(Exception):
    """A call Chatwoot did not accept; ``retryable`` when a later attempt may succeed."""

    def __init__(self, message: str, retryable: bool, status: int | None = None):
        super().__init__(message)
        self.retryable, self.status = retryable, status


def messages_path(account_id: int, conversation_id: int) -> str:
    """The API path that creates a message (or a private note) in a conversation."""
    return f"/api/v1/accounts/{int(account_id)}/conversations/{int(conversation_id)}/messages"


def toggle_status_path(account_id: int, conversation_id: int) -> str:
    """The API path that sets a conversation's status (open, pending, resolved, snoozed)."""
    return f"/api/v1/accounts/{int(account_id)}/conversations/{int(conversation_id)}/toggle_status"


class ChatwootClient:
    """POSTs JSON to one Chatwoot instance; thread-safe (one short-lived connection per call)."""

    def __init__(self, base_url: str, token: str, timeout: float = 10.0, tries: int = 3, backoff: float = 0.25):
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"chatwoot_url must be an http(s) URL, got {base_url!r}")
        self.base_url, self.token, self.timeout = base_url.rstrip("/"), token, timeout
        self.tries, self.backoff = max(1, tries), backoff

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` to ``path``; Chatwoot's JSON answer, or ChatwootError after the retries."""
        error: ChatwootError | None = None
        for attempt in range(self.tries):
            if attempt:
                time.sleep(self.backoff * (2 ** (attempt - 1)))
            try:
                return self._once(path, body)
            except ChatwootError as exc:
                error = exc
                log.warning("chatwoot POST %s failed (try %d of %d): %s", path, attempt + 1, self.tries, exc)
                if not exc.retryable or exc.status in (401, 403):
                    break  # a wrong token or a bad request will not heal within a second
        assert error is not None
        raise error

    def _once(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            resp = requests.post(self.base_url + path, data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                                 timeout=self.timeout,
                                 headers={"Content-Type": "application/json", "api_access_token": self.token,
                                          "User-Agent": "shopqa-agent-bot"})
        except requests.RequestException as exc:
            raise ChatwootError(f"{type(exc).__name__}: {exc}", retryable=True) from exc
        if resp.status_code >= 300:
            retryable = resp.status_code >= 500 or resp.status_code in RETRY_LATER
            raise ChatwootError(f"HTTP {resp.status_code}: {resp.text[:200]}", retryable, resp.status_code)
        try:
            data = resp.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {"data": data}
