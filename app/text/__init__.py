"""Language helpers shared by the pipeline: bilingual terms, long messages, questions, prompts."""
