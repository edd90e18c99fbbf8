"""What every ``shopqa`` command shares: the documented exit codes, the error that carries one,
and the effective settings."""
from __future__ import annotations

import click

from shopqa.settings import ConfigError, Settings

EXIT_STRICT, EXIT_LOCKED, EXIT_CONFIG = 3, 4, 5


class ShopqaError(click.ClickException):
    """A domain error shown as one clear message with a documented exit code."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


def load_settings(ctx: click.Context, **overrides) -> Settings:
    """The settings of this run: defaults < config file < SHOPQA_* env vars < the given options."""
    try:
        return Settings.load(ctx.obj.get("config"), **{k: v for k, v in overrides.items() if v is not None})
    except ConfigError as exc:
        raise ShopqaError(str(exc), EXIT_CONFIG) from exc
