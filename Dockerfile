# shopqa: offline customer-service assistant. Builds llama-cpp-python from source (portable flags).
FROM python:3.11-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake git \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /srv/shopqa
COPY pyproject.toml README.md Makefile ./
COPY scripts ./scripts
COPY app ./app
COPY ingest ./ingest
COPY prompts ./prompts
COPY examples ./examples
COPY indexes/README.md ./indexes/README.md

# A non-editable install of the service (prompts and data ship inside the package).
# The ask at the end embeds the routing models' examples once, so the container starts fast.
# PyPI's torch for Linux is the multi-GB CUDA build; the CPU build comes from PyTorch's index.
RUN SHOPQA_INSTALL=service TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu bash scripts/install.sh \
 && .venv/bin/shopqa ingest examples/sample-shop --quiet \
 && .venv/bin/shopqa ask "hello" --no-llm --json > /dev/null

ENV SHOPQA_HOST=0.0.0.0 SHOPQA_PORT=8080 PATH=/srv/shopqa/.venv/bin:$PATH
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"
CMD ["shopqa", "serve"]
