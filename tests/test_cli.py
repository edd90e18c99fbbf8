"""The command line: settings precedence, ingest summary and exit codes."""
from __future__ import annotations

import json
import shutil
import logging

from click.testing import CliRunner

from shopqa.cli import cli
from shopqa.settings import ConfigError, Settings

import pytest


def test_settings_precedence(tmp_path, monkeypatch):
    cfg = tmp_path / "shopqa.toml"
    cfg.write_text('index_dir = "from-file"\nport = 9000\nembedder = "hash:64"\n')
    monkeypatch.setenv("SHOPQA_PORT", "9100")
    s = Settings.load(cfg)
    assert str(s.index_dir) == "from-file" and s.port == 9100 and s.embedder == "hash:64"
    assert Settings.load(cfg, port=9200).port == 9200


def test_bad_config_names_the_file(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("port = 'not a number'\n")
    with pytest.raises(ConfigError, match="bad.toml"):
        Settings.load(cfg)
    with pytest.raises(ConfigError, match="config file not found"):
        Settings.load(tmp_path / "missing.toml")
    cfg.write_text("unknown_key = 1\n")
    with pytest.raises(ConfigError, match="unknown_key"):
        Settings.load(cfg)


def test_config_command_shows_env(monkeypatch):
    monkeypatch.setenv("SHOPQA_EMBEDDER", "sentence-transformers:all-MiniLM-L6-v2")
    result = CliRunner().invoke(cli, ["config", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output)["embedder"] == "sentence-transformers:all-MiniLM-L6-v2"


def test_config_never_prints_passwords_of_the_shared_engines(monkeypatch):
    monkeypatch.setenv("SHOPQA_DATABASE_URL", "postgresql://shop:pg-s3cret@db:5432/shopqa")
    monkeypatch.setenv("SHOPQA_REDIS_URL", "redis://:rd-s3cret@cache:6379/0")
    monkeypatch.setenv("SHOPQA_LLM_API_KEY", "sk-s3cret")
    result = CliRunner().invoke(cli, ["config", "--json"])
    assert result.exit_code == 0 and "s3cret" not in result.output
    shown = json.loads(result.output)
    assert shown["database_url"] == "postgresql://shop:***@db:5432/shopqa" and shown["llm_api_key"] == "(set)"
    monkeypatch.setenv("SHOPQA_REDIS_URL", "localhost:6379")
    bad = CliRunner().invoke(cli, ["config", "--json"])
    assert bad.exit_code != 0 and "redis_url" in bad.output and "scheme" in bad.output


def test_ingest_summary_and_exit_codes(shop_copy, tmp_path):
    runner = CliRunner()
    args = ["ingest", str(shop_copy), "--index-dir", str(tmp_path / "idx"), "--embedder", "hash:128"]
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "20 added, 0 changed, 0 removed" in first.output and "chunks/s" in first.output
    assert "wall time" in first.output and "product         5" in first.output
    again = runner.invoke(cli, args + ["--quiet"])
    assert again.exit_code == 0 and again.output.startswith("0 added, 0 changed, 0 removed")
    (shop_copy / "faqs/bad.jsonl").write_text("{oops}\n")
    strict = runner.invoke(cli, args + ["--strict"])
    assert strict.exit_code == 3 and "faqs/bad.jsonl:1: invalid JSON" in strict.output
    other = runner.invoke(cli, ["ingest", str(shop_copy), "--index-dir", str(tmp_path / "idx"), "--embedder", "hash:64"])
    assert other.exit_code == 5 and "--rebuild" in other.output
    missing = runner.invoke(cli, ["ingest", str(tmp_path / "nope"), "--index-dir", str(tmp_path / "x")])
    assert missing.exit_code == 5 and "shop folder not found" in missing.output
    bad_embedder = runner.invoke(cli, ["ingest", str(shop_copy), "--index-dir", str(tmp_path / "y"),
                                       "--embedder", "word2vec"])
    assert bad_embedder.exit_code == 5 and "unknown embedder 'word2vec'" in bad_embedder.output


def _ingest_args(shop, tmp_path, *extra):
    return ["ingest", str(shop), "--index-dir", str(tmp_path / "idx"), "--embedder", "hash:128", *extra]


def test_ingest_accepts_intents_and_reports_bad_rows(shop_copy, tmp_path, monkeypatch, caplog):
    (shop_copy / "intents").mkdir()
    extra = shop_copy / "intents/extra.csv"
    extra.write_text("text,intent\nwhere is my parcel,order_status\n", encoding="utf-8")
    runner = CliRunner()
    strict = runner.invoke(cli, _ingest_args(shop_copy, tmp_path, "--strict"))
    assert strict.exit_code == 0 and strict.stderr == "", strict.output
    assert "20 added" in strict.output  # intent examples are not indexed
    extra.write_text("text,intent\nwhere is my parcel,order_status\nbuy me a jetpack,teleport\n", encoding="utf-8")
    failed = runner.invoke(cli, _ingest_args(shop_copy, tmp_path, "--strict"))
    assert failed.exit_code == 3 and "intents/extra.csv:3: unknown intent 'teleport'" in failed.stderr
    lenient = runner.invoke(cli, _ingest_args(shop_copy, tmp_path))
    assert lenient.exit_code == 0
    assert lenient.stderr.startswith("warning: intents/extra.csv:3: unknown intent 'teleport'")
    assert "1 problems, 1 records skipped" in lenient.output
    # The service reads intents/ itself at warm-up and logs the rows it skips.
    monkeypatch.setenv("SHOPQA_EMBEDDER", "hash:128")
    monkeypatch.setenv("SHOPQA_DATA_DIR", str(tmp_path / "var"))
    with caplog.at_level(logging.WARNING, logger="shopqa"):
        asked = runner.invoke(cli, ["ask", "--index-dir", str(tmp_path / "idx"), "--no-llm", "--json", "hello"])
    assert asked.exit_code == 0, asked.output
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("shopqa") and r.levelno == logging.WARNING]
    assert any("intents/extra.csv:3: unknown intent 'teleport'" in m for m in logged), logged


def test_quiet_prints_one_line_that_counts_problems(shop_copy, tmp_path):
    (shop_copy / "faqs/bad.jsonl").write_text("{oops}\n[1]\n", encoding="utf-8")
    runner = CliRunner()
    quiet = runner.invoke(cli, _ingest_args(shop_copy, tmp_path, "--quiet"))
    assert quiet.exit_code == 0 and quiet.stderr == ""
    assert quiet.output.count("\n") == 1 and quiet.output.startswith("20 added, 0 changed, 0 removed")
    assert quiet.output.rstrip().endswith("2 problems; run without --quiet to list them")
    strict = runner.invoke(cli, _ingest_args(shop_copy, tmp_path, "--quiet", "--strict"))
    assert strict.exit_code == 3 and strict.output.count("\n") == 1
    assert "2 input problem(s)" in strict.output and "run without --quiet" in strict.output
    (shop_copy / "faqs/bad.jsonl").unlink()
    clean = runner.invoke(cli, _ingest_args(shop_copy, tmp_path, "--quiet"))
    assert clean.exit_code == 0 and clean.output.count("\n") == 1
    assert clean.output.rstrip().endswith("; 0 problems") and "--quiet" not in clean.output


def test_help_explains():
    result = CliRunner().invoke(cli, ["ingest", "--help"])
    assert "docs/ (.md .txt .html)" in result.output and "--strict" in result.output


def test_ask_json_and_session(tiny_index, tmp_path, monkeypatch):
    monkeypatch.setenv("SHOPQA_EMBEDDER", "hash:128")
    monkeypatch.setenv("SHOPQA_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SHOPQA_CURATED_THRESHOLD", "0.9")
    monkeypatch.setenv("SHOPQA_ABSTAIN_THRESHOLD", "0.05")
    runner = CliRunner()
    base = ["ask", "--index-dir", str(tiny_index), "--no-llm", "--json"]
    result = runner.invoke(cli, base + ["Do you accept PayPal?"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"answer", "path", "sources", "lang", "timings_ms", "route", "intent", "sentiment", "handoff",
            "session_id"} <= set(data)
    assert data["route"] == "knowledge" and data["handoff"] is None and data["sentiment"]["label"] in (
        "negative", "neutral", "positive")
    assert data["path"] == "curated" and {"id", "title", "source", "snippet", "score"} <= set(data["sources"][0])
    runner.invoke(cli, base + ["--session", "s1", "How long do refunds take?"])
    follow = json.loads(runner.invoke(cli, base + ["--session", "s1", "and for PayPal?"]).output)
    assert follow["standalone_query"].startswith("How long do refunds take?")
    text = runner.invoke(cli, ["ask", "--index-dir", str(tiny_index), "--no-llm", "Does the X200 case fit the X300?"])
    assert text.exit_code == 0 and "path: graph" in text.output and text.output.startswith("No.")
    assert runner.invoke(cli, ["ask", "--index-dir", str(tiny_index), "  "]).exit_code == 2


def test_chats_export_and_eval_errors(tiny_index, tmp_path, monkeypatch):
    monkeypatch.setenv("SHOPQA_EMBEDDER", "hash:128")
    monkeypatch.setenv("SHOPQA_DATA_DIR", str(tmp_path / "var"))
    runner = CliRunner()
    missing = runner.invoke(cli, ["chats", "export", "-o", str(tmp_path / "out.jsonl")])
    assert missing.exit_code == 2 and "no conversations" in missing.output
    asked = runner.invoke(cli, ["ask", "--index-dir", str(tiny_index), "--no-llm", "--json", "--session", "s9",
                                "I want to talk to a human agent please"])
    assert json.loads(asked.output)["handoff"]["ticket"] == "T-000001"
    out = tmp_path / "out.jsonl"
    result = runner.invoke(cli, ["chats", "export", "-o", str(out)])
    assert result.exit_code == 0 and "wrote 1 conversations" in result.output
    assert json.loads(out.read_text())["id"] == "shopqa-s9"
    nodata = runner.invoke(cli, ["eval", "intents", "--datasets", str(tmp_path / "none")])
    assert nodata.exit_code == 2 and "bitext_customer_service_8k.csv not found" in nodata.output


@pytest.mark.parametrize("env,index,says", [
    ({"SHOPQA_EMBEDDER": "sentence-transformers:{tmp}/no-model"}, "tiny", "not a sentence-transformers model folder"),
    ({"SHOPQA_EMBEDDER": "word2vec"}, "tiny", "unknown embedder 'word2vec'"),
    ({"SHOPQA_EMBEDDER": "hash:128", "SHOPQA_LLM_MODEL_PATH": "{tmp}/missing.gguf"}, "tiny",
     "GGUF model file not found"),
    ({"SHOPQA_EMBEDDER": "hash:128"}, "missing", "no index here yet"),
    ({"SHOPQA_EMBEDDER": "hash:128"}, "corrupt", "this index generation cannot be read"),
])
def test_ask_turns_bad_models_and_index_into_exit_5(tiny_index, tmp_path, monkeypatch, env, index, says):
    monkeypatch.setenv("SHOPQA_DATA_DIR", str(tmp_path / "var"))
    for key, value in env.items():
        monkeypatch.setenv(key, value.format(tmp=tmp_path))
    index_dir = tiny_index if index == "tiny" else tmp_path / "no-index"
    if index == "corrupt":  # a generation whose FAISS file was cut short (a half-finished copy)
        index_dir = tmp_path / "corrupt"
        shutil.copytree(tiny_index, index_dir)
        generation = json.loads((index_dir / "manifest.json").read_text())["generation"]
        faiss_file = index_dir / generation / "dense.faiss"
        faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    result = CliRunner().invoke(cli, ["ask", "--index-dir", str(index_dir), "where is my order?"])
    # A handled domain error leaves through SystemExit; anything else would be a traceback.
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 5 and says in result.output and "Traceback" not in result.output
