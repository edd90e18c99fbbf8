"""Reading a message and choosing its route: intent, sentiment, injection, the evidence gate."""
