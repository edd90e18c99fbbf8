"""``shopqa eval``: the routing models on public data, or a whole shop on graded questions."""
from __future__ import annotations

import json
from pathlib import Path

import click

from shopqa.cli_common import EXIT_CONFIG, ShopqaError, load_settings


@click.group("eval")
def eval_group() -> None:
    """Measure the routing models on public data (../shared/datasets by default), or a whole shop on
    graded questions (`eval shop`)."""


def _model_eval_options(f):
    """The options of the model evaluations: the datasets folder, the embedder and JSON output."""
    f = click.option("--json", "as_json", is_flag=True, help="Print the numbers as JSON.")(f)
    f = click.option("--embedder", help="Embedder spec (default: the configured one).")(f)
    return click.option("--datasets", type=click.Path(file_okay=False, path_type=Path),
                        default=lambda: str(Path.cwd().parent / "shared" / "datasets"), show_default="../shared/datasets",
                        help="Folder with the public datasets (bitext/, clinc150/, sentiment_en/, sentiment_zh/).")(f)


def _evaluate(ctx: click.Context, name: str, datasets: Path, embedder: str | None, as_json: bool) -> None:
    """Run ``evaluation.<name>`` and print it as JSON or with ``evaluation.format_<name>``."""
    from shopqa.ingest.embedders import EmbedderError

    from shopqa.evals import evaluation

    settings = load_settings(ctx, embedder=embedder)
    try:
        result = getattr(evaluation, name)(settings, datasets)
    except evaluation.DatasetMissing as exc:
        raise ShopqaError(str(exc), 2) from exc
    except EmbedderError as exc:
        raise ShopqaError(str(exc)) from exc
    click.echo(json.dumps(result, indent=2) if as_json else getattr(evaluation, f"format_{name}")(result))


@eval_group.command("intents")
@_model_eval_options
@click.pass_context
def eval_intents(ctx: click.Context, datasets: Path, embedder: str | None, as_json: bool) -> None:
    """Intent macro-F1 on Bitext (27 intents mapped onto shopqa's) and out-of-scope rejection on CLINC150.

    The classifier is the one the service uses: trained on shopqa's bundled examples only,
    never on the rows it is tested on; thresholds come from app/data/calibration.json.
    """
    _evaluate(ctx, "intents", datasets, embedder, as_json)


@eval_group.command("sentiment")
@_model_eval_options
@click.pass_context
def eval_sentiment(ctx: click.Context, datasets: Path, embedder: str | None, as_json: bool) -> None:
    """Binary sentiment accuracy on the VADER Amazon snippets and the Chinese review sentences."""
    _evaluate(ctx, "sentiment", datasets, embedder, as_json)


@eval_group.command("shop")
@click.argument("shop_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("questions", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the whole report (every case and reply) as JSON.")
@click.option("--baseline", is_flag=True, help="Also answer the answer and abstain cases with a plain LangChain "
              "RetrievalQA over the same vectors and GGUF, side by side.")
@click.option("--no-llm", is_flag=True, help="Extractive answers only (no generation).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the JSON report here.")
@click.pass_context
def eval_shop(ctx: click.Context, shop_dir: Path, questions: Path, as_json: bool, baseline: bool, no_llm: bool,
              out: Path | None) -> None:
    """Score SHOP_DIR on graded customer questions (QUESTIONS, one JSON object a line), as a new user would.

    The shop is ingested into a fresh temporary folder, the real service is started in-process
    and each case is sent to POST /api/chat in a session of its own. Case kinds: answer
    (turns, expect: [[alternatives], ...]), abstain (turns, forbid), route (turns, intent,
    handoff) and order (turns, forbid, expect_last); the rules are those of
    ../shared/dev-shops/README.md. Prints pass rates by kind, language and topic, invented
    numbers and leaked order data, then every failing case with its path and reply.
    Write your own questions to test your shop before going live.
    """
    from shopqa.ingest.embedders import EmbedderError
    from shopqa.ingest.manifest import IndexUnusable

    from shopqa.evals import shop_eval
    from shopqa.evals.baseline import BaselineUnavailable

    settings = load_settings(ctx, **({"llm_enabled": False} if no_llm else {}))
    try:
        cases = shop_eval.load_cases(questions)
        report = shop_eval.evaluate(shop_dir, cases, settings, baseline=baseline,
                                    progress=lambda line: click.echo(line, err=True))
    except shop_eval.CasesError as exc:
        raise ShopqaError(str(exc), 2) from exc
    except (IndexUnusable, EmbedderError, FileNotFoundError, ValueError, BaselineUnavailable) as exc:
        raise ShopqaError(str(exc), EXIT_CONFIG) from exc
    if out:
        out.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    click.echo(json.dumps(report, indent=2, ensure_ascii=False) if as_json else shop_eval.format_report(report))

