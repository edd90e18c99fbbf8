"""``shopqa staff``: accounts for the console, dashboard and search page, and staff API tokens."""
from __future__ import annotations

import sys

import click

from shopqa.cli_common import EXIT_CONFIG, ShopqaError, load_settings


@click.group("staff")
def staff_group() -> None:
    """Staff access to the console, dashboard, search page and staff API."""


@staff_group.command("hash-password")
@click.password_option(help="The password (asked twice if not given).")
def staff_hash_password(password: str) -> None:
    """Print a password hash for ``staff_users`` in the config file.

    \b
    [staff_users]
    alice = "<the printed hash>"
    """
    from werkzeug.security import generate_password_hash

    click.echo(generate_password_hash(password))


@staff_group.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@click.pass_context
def staff_add(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Create the staff account NAME, stored hashed in data_dir (or in the shared database with
    database_url). Asks for the password twice unless --password-stdin is given."""
    from sqlalchemy.exc import SQLAlchemyError

    from shopqa.staff.accounts import AccountError, check_name, open_account_store
    from shopqa.storage.engine import database_error

    settings = load_settings(ctx)
    taken = set(settings.staff_users)
    try:
        check_name(name, taken)  # before asking for a password that would be thrown away
        with open_account_store(settings) as store:
            if store.password_hash(name) is not None:
                raise AccountError(f"the name {name!r} is already taken")
            password = (sys.stdin.readline().rstrip("\r\n") if password_stdin else
                        click.prompt("Password", hide_input=True, confirmation_prompt=True))
            store.add(name, password, taken)
    except AccountError as exc:
        raise ShopqaError(f"staff account not created: {exc}") from None
    except SQLAlchemyError as exc:
        raise ShopqaError(f"staff account not created: the account store cannot be used ({database_error(exc)}); "
                          f"check SHOPQA_DATA_DIR or SHOPQA_DATABASE_URL", EXIT_CONFIG) from exc
    where = "the shared database" if settings.database_url else f"{settings.data_dir}/staff.sqlite"
    click.echo(f"staff account {name!r} created in {where}; log in at /login")


@staff_group.command("new-token")
def staff_new_token() -> None:
    """Make a bearer token for the staff API: give the token to the client, put its SHA-256 in ``staff_tokens``."""
    import secrets

    from shopqa.web.auth import token_digest

    token = secrets.token_urlsafe(32)
    click.echo(f"token:  {token}")
    click.echo(f"sha256: {token_digest(token)}   (add this to staff_tokens)")
