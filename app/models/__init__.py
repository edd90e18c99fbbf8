"""Model runtimes the service loads: the local LLM and the optional cross-encoder reranker."""
