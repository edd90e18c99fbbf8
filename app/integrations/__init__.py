"""shopqa inside other tools: the Chatwoot agent bot (issue 17)."""
