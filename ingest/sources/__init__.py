"""One parser per shop subfolder. Each takes (path, rel, text, options) and yields records and problems."""
