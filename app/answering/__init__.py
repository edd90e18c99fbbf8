"""The knowledge pipeline: retrieval, answer candidates, the fitted scorer and decision, grounded phrasing."""
