"""The order tools: the order store, the verification flow and the slot readers."""
