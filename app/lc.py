"""LangChain adapters: shopqa's embedders as LangChain Embeddings, and retrieval as a LangChain retriever.

They let LangChain chains (and the RetrievalQA baseline in bench/answer_speed.py) run on exactly
the same embedder and index as shopqa.
"""
from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever

from ingest.embedders import Embedder

from .retrieval import HybridRetriever


class ShopqaEmbeddings(Embeddings):
    """LangChain ``Embeddings`` over a shopqa embedder (keeps e5's query/passage prefixes)."""

    def __init__(self, embedder: Embedder):
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Passage vectors."""
        return self.embedder.embed_passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Query vector."""
        return self.embedder.embed_queries([text])[0].tolist()


class ShopqaRetriever(BaseRetriever):
    """LangChain retriever over shopqa's hybrid retrieval; each Document carries its scores."""

    retriever: Any
    k: int = 6

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        hits = self.retriever.search(query, k=self.k)
        return [Document(page_content=h.unit.text, metadata=h.as_dict()) for h in hits]

    @classmethod
    def over(cls, retriever: HybridRetriever, k: int = 6) -> "ShopqaRetriever":
        """Wrap a HybridRetriever."""
        return cls(retriever=retriever, k=k)
