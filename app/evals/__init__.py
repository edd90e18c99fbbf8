"""Measuring shopqa: public benchmarks, dev-shop evaluation and the RetrievalQA baseline."""
