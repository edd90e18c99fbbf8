"""Orders from .csv or .jsonl; they feed the order store and the graph and are never embedded."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from ..records import Problem, SourceRecord
from .tabular import as_list, complete_rows

EXTENSIONS = (".csv", ".jsonl")
REQUIRED = ("order_id", "email", "status", "placed_at", "items")
STATUSES = ("pending", "processing", "shipped", "delivered", "cancelled", "returned")


def _iso(value: Any) -> str:
    text = str(value).strip()
    try:
        return (datetime.fromisoformat(text) if "T" in text or " " in text else date.fromisoformat(text)).isoformat()
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an ISO date (YYYY-MM-DD)") from exc


def parse(path: Path, rel: str, text: str, chunk_tokens: int) -> tuple[list[SourceRecord], list[Problem]]:
    """One record per order, keyed by order id."""
    problems: list[Problem] = []
    records: list[SourceRecord] = []
    for line, row in complete_rows(text, rel, path.suffix.lower(), REQUIRED, problems):
        status = str(row["status"]).strip().lower()
        if status not in STATUSES:
            problems.append(Problem(rel, line, f"status {status!r} is not one of {', '.join(STATUSES)}; skipped"))
            continue
        email = str(row["email"]).strip().lower()
        if "@" not in email:
            problems.append(Problem(rel, line, f"email {email!r} is not an email address; skipped"))
            continue
        try:
            placed = _iso(row["placed_at"])
            shipped = _iso(row["shipped_at"]) if row.get("shipped_at") not in (None, "") else ""
            total = float(str(row["total"]).replace(",", "")) if row.get("total") not in (None, "") else None
        except ValueError as exc:
            problems.append(Problem(rel, line, f"{exc}; skipped"))
            continue
        items = as_list(row["items"])
        order = {"order_id": str(row["order_id"]).strip(), "email": email, "status": status,
                 "placed_at": placed, "items": items, "shipped_at": shipped,
                 "carrier": str(row.get("carrier") or "").strip(), "tracking": str(row.get("tracking") or "").strip(),
                 "address": str(row.get("address") or "").strip(), "total": total}
        records.append(SourceRecord(key=f"order:{order['order_id']}", type="order", source=rel, line=line, data=order))
    return records, problems
