"""The plain LangChain RetrievalQA that shopqa is compared with, over the same vectors and GGUF.

It is what a shop would get from a LangChain tutorial: the index's own chunk texts and
vectors in a LangChain FAISS store, the top 6 passages "stuffed" into one prompt, and the same
GGUF run by ``langchain_community``'s LlamaCpp. No routing, no answerability, no grounding check.
The service never needs it: LangChain's packages come with the ``bench`` extra
(``pip install -e ".[bench]"``), which `scripts/install.sh` installs.
"""
from __future__ import annotations

import warnings
from typing import Any


class BaselineUnavailable(RuntimeError):
    """The baseline's packages are not installed."""


def _embeddings(embedder):
    """shopqa's embedder as LangChain ``Embeddings`` (keeps e5's query/passage prefixes)."""
    from langchain_core.embeddings import Embeddings

    class ShopqaEmbeddings(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed_passages(texts).tolist()

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed_queries([text])[0].tolist()

    return ShopqaEmbeddings()


def build_retrieval_qa(index, embedder, model_path: str, max_tokens: int, n_threads: int | None):
    """A plain LangChain RetrievalQA over the same vectors, texts, embedder and GGUF."""
    warnings.filterwarnings("ignore")
    try:
        from langchain_classic.chains import RetrievalQA
        from langchain_community.llms import LlamaCpp
        from langchain_community.vectorstores import FAISS
    except ImportError as exc:
        raise BaselineUnavailable("the RetrievalQA baseline needs LangChain: pip install -e \".[bench]\"") from exc

    rows = index.db().execute("SELECT id, text FROM units ORDER BY id").fetchall()
    pairs = [(r["text"], index.dense.reconstruct(int(r["id"])).tolist()) for r in rows]
    store = FAISS.from_embeddings(pairs, _embeddings(embedder))
    llm = LlamaCpp(model_path=model_path, n_ctx=4096, max_tokens=max_tokens, temperature=0.0,
                   n_threads=n_threads, verbose=False)
    return RetrievalQA.from_chain_type(llm=llm, retriever=store.as_retriever(search_kwargs={"k": 6}))


class RetrievalQABaseline:
    """``answer(question) -> text`` from the plain chain."""

    def __init__(self, chain: Any):
        self.chain = chain

    @classmethod
    def over(cls, resources, settings) -> "RetrievalQABaseline":
        """The baseline over a warmed-up service's index, embedder and GGUF."""
        from shopqa.models.llm import packaged_gguf

        model_path = str(getattr(resources.llm, "model_path", None) or settings.llm_model_path or packaged_gguf())
        chain = build_retrieval_qa(resources.index(), resources.embedder, model_path, settings.max_answer_tokens,
                                   settings.llm_threads or None)
        return cls(chain)

    def answer(self, question: str) -> str:
        """The chain's answer to one question."""
        return str(self.chain.invoke({"query": question})["result"]).strip()
