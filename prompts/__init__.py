"""The prompt files. Installed inside the package as ``app/prompts`` (a link to this folder in a
checkout), so a non-editable ``pip install .`` carries them."""
