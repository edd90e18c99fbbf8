"""The ``shopqa`` command line. Domain errors become ClickExceptions here, at the edge.

Exit codes: 0 success (problems in the input are reported and skipped), 1 an unexpected
error, 2 a usage error, 3 ``--strict`` found input problems (nothing changed), 4 another
ingest holds the lock, 5 configuration or index problem (e.g. embedder mismatch).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from shopqa.cli_common import EXIT_CONFIG, EXIT_LOCKED, EXIT_STRICT, ShopqaError, load_settings
from shopqa.cli_eval import eval_group
from shopqa.cli_staff import staff_group
from shopqa.settings import ConfigError, Settings

_RERUN = "run without --quiet to list them"  # --quiet counts the problems; this says how to see them


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", type=click.Path(dir_okay=False), envvar="SHOPQA_CONFIG",
              help="TOML settings file (keys as in `shopqa config`). Env: SHOPQA_CONFIG.")
@click.version_option(package_name="shopqa")
@click.pass_context
def cli(ctx: click.Context, config: str | None) -> None:
    """shopqa: a self-hosted, offline customer-service assistant for online shops.

    \b
    Typical use:
      shopqa ingest examples/sample-shop     # build indexes/ from a shop folder
      shopqa serve                           # answer customers over HTTP
    Every setting can come from SHOPQA_* environment variables or --config FILE.
    """
    ctx.ensure_object(dict)
    ctx.obj["config"] = config


cli.add_command(eval_group)  # the `eval` commands live in cli_eval.py
cli.add_command(staff_group)  # the `staff` commands live in cli_staff.py


@cli.command("config")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of KEY = value lines.")
@click.pass_context
def config_cmd(ctx: click.Context, as_json: bool) -> None:
    """Print the effective settings (defaults < config file < SHOPQA_* env vars)."""
    values = load_settings(ctx).public_dict()
    if as_json:
        click.echo(json.dumps(values, indent=2, ensure_ascii=False))
        return
    for key, value in values.items():
        click.echo(f"{key} = {json.dumps(value, ensure_ascii=False)}")


@cli.command()
@click.argument("shop_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--index-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where to write the index (default: settings index_dir, ./indexes).")
@click.option("--embedder", help="Embedder spec, e.g. e5-small or sentence-transformers:all-MiniLM-L6-v2.")
@click.option("--rebuild", is_flag=True, help="Ignore the existing index and build from scratch.")
@click.option("--strict", is_flag=True, help="Fail (exit 3) on any input problem, leaving the old index untouched.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars and only a one-line summary.")
@click.pass_context
def ingest(ctx: click.Context, shop_dir: Path, index_dir: Path | None, embedder: str | None,
           rebuild: bool, strict: bool, quiet: bool) -> None:
    """Turn SHOP_DIR into a FAISS index, a BM25 keyword index and a product graph.

    SHOP_DIR may hold docs/ (.md .txt .html), faqs/ (.csv .jsonl), chats/ (.jsonl),
    catalog/ (.csv .jsonl), orders/ (.csv .jsonl) and intents/ (.csv .jsonl; extra
    intent examples, checked here and read by the service); see the README for the formats.
    Re-running is incremental: only records whose content changed are embedded again.
    FAQs published from the dashboard (data_dir/faqs/published.jsonl) are read too. With
    SHOPQA_DATABASE_URL set, the new generation is then published to Postgres, where the
    service's replicas read it.
    Malformed records are reported as path:line: problem and skipped (with --quiet only
    counted).
    """
    from shopqa.ingest.lock import LockHeld
    from shopqa.ingest.manifest import IndexUnusable
    from shopqa.ingest.embedders import EmbedderError
    from shopqa.ingest.pipeline import IngestOptions, StrictFailure, run

    settings = load_settings(ctx, index_dir=index_dir, embedder=embedder)
    progress = not quiet and sys.stderr.isatty()
    try:
        opts = IngestOptions(shop_dir=shop_dir, index_dir=settings.index_dir, embedder=settings.embedder,
                             rebuild=rebuild, strict=strict, max_file_bytes=int(settings.max_file_mb * 1e6),
                             chunk_tokens=settings.chunk_tokens, batch_size=settings.embed_batch_size,
                             progress=progress,
                             # FAQs staff published from the dashboard stay part of the shop.
                             extra_faq_files=tuple(p for p in [Path(settings.data_dir) / "faqs" / "published.jsonl"]
                                                   if p.is_file()))
        report = run(opts)
    except StrictFailure as exc:
        if quiet:  # one line: the count, and how to see the list
            raise ShopqaError(f"{exc}; {_RERUN}", EXIT_STRICT) from exc
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise ShopqaError(str(exc), EXIT_STRICT) from exc
    except LockHeld as exc:
        raise ShopqaError(str(exc), EXIT_LOCKED) from exc
    except (IndexUnusable, EmbedderError, FileNotFoundError, ValueError) as exc:
        raise ShopqaError(str(exc), EXIT_CONFIG) from exc
    except KeyboardInterrupt:
        raise ShopqaError("interrupted; the previous index is unchanged", 130) from None
    _print_report(report, settings, quiet)
    if settings.database_url:
        _publish(settings, quiet)


def _publish(settings: Settings, quiet: bool) -> None:
    """With SHOPQA_DATABASE_URL, make the index folder's live generation live in Postgres too
    (the replicas read it from there)."""
    from sqlalchemy.exc import SQLAlchemyError

    from shopqa.ingest.pg_publish import publish
    from shopqa.storage.engine import database_engine, database_error

    engine = database_engine(settings.database_url, pool_size=1)
    try:
        done = publish(engine, settings.index_dir)
    except SQLAlchemyError as exc:
        raise ShopqaError(f"the index was built in {settings.index_dir} but could not be published to Postgres "
                          f"({database_error(exc)}); check SHOPQA_DATABASE_URL and run ingest again "
                          "(nothing is embedded twice)", EXIT_CONFIG) from exc
    finally:
        engine.dispose()
    if done.published:
        click.echo(f"Postgres: {done.name} is live ({done.chunks} chunks, {done.seconds:.1f} s)")
    elif not quiet:
        click.echo(f"Postgres: {done.name} already serves this index - unchanged")


def _print_report(report, settings: Settings, quiet: bool) -> None:
    """The problems and the summary; with ``quiet`` one line that still counts the problems."""
    delta = f"{report.added} added, {report.changed} changed, {report.removed} removed"
    if quiet:
        count = len(report.problems)
        # The problems are not listed, so the line must say there are some and how to see them.
        problems = f"{count} problem{'' if count == 1 else 's'}" + (f"; {_RERUN}" if count else "")
        click.echo(f"{delta} ({report.embedded_units} chunks embedded, {report.wall_seconds:.1f} s); {problems}")
        return
    for problem in report.problems:
        click.echo(f"warning: {problem}", err=True)
    where = f"{settings.index_dir} ({report.generation})" if report.generation else str(settings.index_dir)
    click.echo(f"Index: {where}{'' if report.swapped else ' - unchanged'}")
    click.echo(f"  {'type':<8} {'records':>8} {'units':>7}")
    for rtype, count in report.records.items():
        click.echo(f"  {rtype:<8} {count:>8} {report.units[rtype]:>7}")
    click.echo(f"  {delta}, {report.unchanged} unchanged")
    click.echo(f"  {report.embedded_units} chunks embedded in {report.embed_seconds:.1f} s "
               f"({report.chunks_per_second:.1f} chunks/s); {report.files} files read")
    click.echo(f"  {len(report.problems)} problems, {report.skipped_records} records skipped")
    click.echo(f"  wall time {report.wall_seconds:.1f} s")


@cli.command()
@click.argument("question")
@click.option("--index-dir", type=click.Path(file_okay=False, path_type=Path), help="Index to answer from.")
@click.option("--session", "session_id", help="Conversation id; follow-ups, order verification and handoffs "
              "carry over between calls with the same id.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (answer, path, route, intent, sentiment, "
              "handoff, sources, lang, timings_ms).")
@click.option("--no-llm", is_flag=True, help="Never call the LLM (curated, graph, extractive or abstain only).")
@click.pass_context
def ask(ctx: click.Context, question: str, index_dir: Path | None, session_id: str | None, as_json: bool,
        no_llm: bool) -> None:
    """Answer QUESTION as the chat service would: route it, then answer or hand off.

    \b
    Routes: knowledge (help-center answer), order (verified order tools), recommend,
    chitchat, feedback, out_of_scope, handoff (a ticket for a person).
    Knowledge paths: graph (catalogue facts), curated (an FAQ answer, verbatim), generated
    (LLM, grounding-checked), extractive (sentences of the sources), abstained.
    """
    from shopqa.ingest.embedders import EmbedderError
    from shopqa.ingest.manifest import IndexUnusable

    from shopqa.models.llm import LLMError
    from shopqa.resources import Resources

    question = question.strip()
    if not question:
        raise ShopqaError("the question is empty", 2)
    settings = load_settings(ctx, index_dir=index_dir, llm_enabled=False if no_llm else None)
    try:
        # Building the resources loads the embedder and the index: a bad model path or an
        # unusable index is a configuration problem (exit 5), not a traceback.
        res = Resources(settings)
        res.warm_up(llm=False)  # the LLM loads only if an answer needs it
        if res.error is not None:  # warm_up keeps what went wrong (for /readyz) instead of raising
            raise ShopqaError(res.error, EXIT_CONFIG)
        assistant = res.assistant()
        streamed: list[str] = []
        reply = assistant.handle(question, session_id, on_token=None if as_json else streamed.append)
    except (IndexUnusable, EmbedderError, LLMError) as exc:
        raise ShopqaError(str(exc), EXIT_CONFIG) from exc
    if as_json:
        click.echo(json.dumps(reply.as_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(reply.answer)
    click.echo()
    for src in reply.sources:
        click.echo(f"  [{src.get('ref', '-')}] {src['title']} — {src['source']}")
        click.echo(f"      {src['snippet'][:160]!s}")
    timings = ", ".join(f"{k} {v:.0f} ms" for k, v in reply.timings_ms.items())
    handoff = f" | handoff: {reply.handoff['reason']} ({reply.handoff.get('ticket')})" if reply.handoff else ""
    click.echo(f"route: {reply.route} | path: {reply.path} | intent: {reply.intent['name']} "
               f"({reply.intent['confidence']:.2f}) | sentiment: {reply.sentiment['label']} "
               f"({reply.sentiment['score']:+.2f}){handoff} | lang: {reply.lang}")
    click.echo(f"session: {reply.session_id} | {timings}")


@cli.group()
def chats() -> None:
    """Stored conversations."""


@chats.command("export")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="JSONL file to write, e.g. my-shop/chats/shopqa-export.jsonl.")
@click.option("--resolved-only", is_flag=True, help="Only conversations whose handoff a person resolved.")
@click.pass_context
def chats_export(ctx: click.Context, out: Path, resolved_only: bool) -> None:
    """Write stored conversations in the chats JSONL format ingest reads.

    Customer and staff turns are exported (the assistant's own replies are not); a handoff
    closed after a staff reply is marked resolved, so the next ingest learns its answer.
    """
    from shopqa.handoff.chat_export import export
    from shopqa.conversations import ConversationStore
    from shopqa.handoff.tickets import TicketStore

    settings = load_settings(ctx)
    data = Path(settings.data_dir)
    if settings.database_url:  # the replicas' shared state
        from shopqa.storage.engine import database_engine

        engine = database_engine(settings.database_url, pool_size=2)
        stores = ConversationStore(engine=engine), TicketStore(engine=engine)
    elif (data / "conversations.sqlite").is_file():
        stores = ConversationStore(data / "conversations.sqlite"), TicketStore(data / "tickets.sqlite")
    else:
        raise ShopqaError(f"no conversations in {data} (set SHOPQA_DATA_DIR or data_dir in the config)", 2)
    count = export(*stores, out, resolved_only)
    click.echo(f"wrote {count} conversations to {out}")


@cli.command()
@click.option("--host", help="Address to bind (default 127.0.0.1).")
@click.option("--port", type=int, help="Port (default 8080).")
@click.option("--workers", type=int, help="gunicorn worker processes (default 1; each loads the models).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int | None) -> None:
    """Run the HTTP service under gunicorn (threads), on the index in index_dir."""
    from shopqa.server import run_gunicorn

    settings = load_settings(ctx, host=host, port=port, workers=workers)
    try:
        run_gunicorn(settings)
    except ConfigError as exc:
        raise ShopqaError(str(exc), EXIT_CONFIG) from exc


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="shopqa")


if __name__ == "__main__":  # pragma: no cover
    main()
