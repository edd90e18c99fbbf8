"""Catalogue answers and product search end to end: the real e5-small index of the tiny shop,
the real app over HTTP (Flask's client), conversations in real SQLite."""
from __future__ import annotations

import pytest

from shopqa.settings import Settings
from shopqa.web import create_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(e5_index, tmp_path_factory):
    app = create_app(Settings(index_dir=e5_index, data_dir=tmp_path_factory.mktemp("var"), llm_enabled=False,
                              rate_limit_per_minute=10_000, staff_users={}, staff_tokens=[]))
    assert app.extensions["shopqa"].error is None
    return app.test_client()


def chat(client, message, session=None):
    body = {"message": message, **({"session_id": session} if session else {})}
    response = client.post("/api/chat", json=body)
    assert response.status_code == 200, response.data
    return response.get_json()


def test_attribute_list_search_and_refinement_over_http(client):
    watts = chat(client, "What wattage is the 30W USB-C charger?")
    assert watts["path"] == "graph" and "30W" in watts["answer"] and watts["sources"][0]["type"] == "product"
    cases = chat(client, "Which cases fit the Tiny X300 phone?")
    assert cases["path"] == "graph" and "TP-CASE-X300" in cases["answer"] and "TP-CASE-X200" not in cases["answer"]
    found = chat(client, "I'm looking for a phone under $400")
    assert found["path"] in ("graph", "recommend") and "TP-X200" in found["answer"] and "TP-X300" not in found["answer"]
    phones = chat(client, "有没有500美元以内的手机？")
    assert "TP-X200" in phones["answer"] and "TP-X300" in phones["answer"]
    # A refinement in the same session, against the product asked about.
    x300 = chat(client, "How much is the Tiny X300 phone?")
    assert x300["path"] == "graph" and "449.00" in x300["answer"]
    cheaper = chat(client, "有没有便宜点的？", session=x300["session_id"])
    assert "TP-X200" in cheaper["answer"] and "TP-X300" not in cheaper["answer"], cheaper
