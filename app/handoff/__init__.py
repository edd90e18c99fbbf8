"""Handing a conversation to a person: tickets, and exporting conversations for the next ingest."""
