"""Staff accounts: the account store, the first-run setup link, `shopqa staff add`, and protected
logins (lockout per account and per client, logging, cookie settings), through Flask's test client."""
from __future__ import annotations

import logging
import re
import time
from http.cookies import SimpleCookie
from email.utils import parsedate_to_datetime

import pytest
from click.testing import CliRunner
from werkzeug.security import generate_password_hash

from shopqa import create_app
from shopqa.cli import cli
from shopqa.resources import Resources
from shopqa.settings import Settings
from shopqa.staff import login_guard
from shopqa.staff.accounts import AccountError, StaffAccountStore
from shopqa.staff.login_guard import LocalFailures, LoginGuard, RedisFailures
from shopqa.staff.setup_token import SetupTokens, announce_setup, setup_needed, setup_url
from shopqa.web.limits import redis_client

PASSWORD = "correct horse battery"


def make_app(tiny_index, hash_embedder, tmp_path, **overrides):
    settings = Settings(**{"index_dir": tiny_index, "data_dir": tmp_path / "var", "embedder": hash_embedder.id,
                           "llm_enabled": False, **overrides})
    res = Resources(settings, embedder=hash_embedder)
    res.warm_up(llm=False)
    return create_app(settings, resources=res), settings


def csrf_of(client, path: str = "/login") -> str:
    page = client.get(path).data.decode()
    return page.split('name="csrf_token" value="')[1].split('"')[0]


def post_login(client, user: str, password: str, **kwargs):
    return client.post("/login", data={"username": user, "password": password, "csrf_token": csrf_of(client)},
                       **kwargs)


def token_of(line: str) -> str:
    return re.search(r"/setup\?token=([\w-]+)", line).group(1)


# -- the store ---------------------------------------------------------------------------------

def test_store_hashes_and_checks_passwords(tmp_path):
    store = StaffAccountStore(tmp_path / "staff.sqlite")
    assert store.count() == 0
    store.add("bob", PASSWORD)
    assert store.check("bob", PASSWORD) and not store.check("bob", "wrong password") and not store.check("eve", PASSWORD)
    assert store.password_hash("bob").startswith("scrypt:") and PASSWORD not in store.password_hash("bob")
    with pytest.raises(AccountError, match="already taken"):
        store.add("bob", PASSWORD)
    with pytest.raises(AccountError, match="too short"):
        store.add("carl", "short")
    with pytest.raises(AccountError, match="not a usable staff name"):
        store.add("bad name", PASSWORD)
    with pytest.raises(AccountError, match="staff_users"):
        store.add("alice", PASSWORD, taken={"alice"})
    with pytest.raises(AccountError, match="exists already"):
        store.add("dora", PASSWORD, only_if_empty=True)  # the setup link makes only the first account
    assert store.names() == ["bob"]


def test_setup_tokens_work_once_and_expire(tmp_path):
    tokens = SetupTokens(StaffAccountStore(tmp_path / "staff.sqlite"))
    token = tokens.issue()
    assert tokens.valid(token) and not tokens.valid("guess") and not tokens.valid("")
    assert tokens.consume(token) and not tokens.consume(token) and not tokens.valid(token)
    expired = tokens.issue(ttl=-1)
    assert not tokens.valid(expired) and not tokens.consume(expired)
    other = tokens.issue()
    tokens.clear()
    assert not tokens.valid(other)


def test_announce_setup_only_without_accounts(tmp_path):
    settings = Settings(data_dir=tmp_path / "var", host="0.0.0.0", port=8123)
    line = announce_setup(settings)
    assert line.startswith("No staff account yet: open http://127.0.0.1:8123/setup?token=")
    store = StaffAccountStore(tmp_path / "var" / "staff.sqlite")
    assert SetupTokens(store).valid(token_of(line))  # another process (a worker) can check it
    assert setup_url(Settings(host="::1", port=80), "t") == "http://[::1]:80/setup?token=t"
    assert announce_setup(Settings(data_dir=tmp_path / "var", staff_users={"alice": "x"})) is None
    store.add("bob", PASSWORD)
    assert not setup_needed(settings, store) and announce_setup(settings) is None


# -- first-run setup through the link ------------------------------------------------------------

def test_setup_link_creates_the_first_account_and_logs_in(tiny_index, hash_embedder, tmp_path, caplog):
    app, settings = make_app(tiny_index, hash_embedder, tmp_path)
    client = app.test_client()
    assert "No staff account yet" in client.get("/login").data.decode()
    token = token_of(announce_setup(settings))
    assert client.get("/setup").status_code == 403
    assert client.get("/setup?token=wrong").status_code == 403
    form = client.get(f"/setup?token={token}")
    assert form.status_code == 200 and 'name="password2"' in form.data.decode()
    csrf = csrf_of(client, f"/setup?token={token}")
    fields = {"token": token, "username": "bob", "password": PASSWORD, "csrf_token": csrf}
    assert client.post("/setup", data={**fields, "password2": PASSWORD + "x"}).status_code == 400
    assert client.post("/setup", data={**fields, "password2": PASSWORD, "csrf_token": "forged"}).status_code == 400
    short = client.post("/setup", data={**fields, "password": "short", "password2": "short"})
    assert short.status_code == 400 and "too short" in short.data.decode()
    with caplog.at_level(logging.INFO, logger="shopqa.auth"):
        done = client.post("/setup", data={**fields, "password2": PASSWORD})
    assert done.status_code == 302 and done.headers["Location"].endswith("/console")
    assert client.get("/console").status_code == 200  # logged in as bob
    assert any("setup link" in r.getMessage() and "'bob'" in r.getMessage() for r in caplog.records)
    assert all(PASSWORD not in r.getMessage() for r in caplog.records)
    store = app.extensions["shopqa"].staff_accounts()
    assert store.names() == ["bob"] and store.check("bob", PASSWORD)
    # Once an account exists the link (and any other one) does nothing.
    again = app.test_client()
    assert again.get(f"/setup?token={token}").status_code == 410
    assert again.post("/setup", data={**fields, "username": "mallory", "password2": PASSWORD}).status_code == 410
    assert store.names() == ["bob"]
    assert post_login(again, "bob", PASSWORD).status_code == 302


def test_setup_is_gone_when_the_config_has_accounts(tiny_index, hash_embedder, tmp_path):
    app, settings = make_app(tiny_index, hash_embedder, tmp_path,
                             staff_users={"alice": generate_password_hash("s3cret")})
    token = SetupTokens(app.extensions["shopqa"].staff_accounts()).issue()
    assert app.test_client().get(f"/setup?token={token}").status_code == 410


def test_a_used_link_cannot_make_a_second_account(tiny_index, hash_embedder, tmp_path):
    app, settings = make_app(tiny_index, hash_embedder, tmp_path)
    store = app.extensions["shopqa"].staff_accounts()
    tokens = SetupTokens(store)
    first, second = tokens.issue(), tokens.issue()
    one, two = app.test_client(), app.test_client()
    forms = [(c, t, csrf_of(c, f"/setup?token={t}")) for c, t in ((one, first), (two, second))]
    for (client, token, csrf), name in zip(forms, ("bob", "carl")):
        client.post("/setup", data={"token": token, "username": name, "password": PASSWORD,
                                    "password2": PASSWORD, "csrf_token": csrf})
    assert store.names() == ["bob"] and two.get("/console").status_code == 302


# -- shopqa staff add ----------------------------------------------------------------------------

def test_cli_staff_add_then_login(tiny_index, hash_embedder, tmp_path, monkeypatch):
    monkeypatch.setenv("SHOPQA_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SHOPQA_STAFF_USERS", '{"alice": "%s"}' % generate_password_hash("s3cret"))
    runner = CliRunner()
    ok = runner.invoke(cli, ["staff", "add", "bob"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert ok.exit_code == 0, ok.output
    assert "created" in ok.output and PASSWORD not in ok.output
    piped = runner.invoke(cli, ["staff", "add", "carl", "--password-stdin"], input=PASSWORD + "\n")
    assert piped.exit_code == 0, piped.output
    for args, stdin, message in ((["bob"], PASSWORD, "already taken"), (["alice"], PASSWORD, "staff_users"),
                                 (["dora"], "short", "too short"), (["no such"], PASSWORD, "usable staff name")):
        failed = runner.invoke(cli, ["staff", "add", *args, "--password-stdin"], input=stdin + "\n")
        assert failed.exit_code == 1 and message in failed.output, failed.output
    app, _ = make_app(tiny_index, hash_embedder, tmp_path, staff_users={"alice": generate_password_hash("s3cret")})
    assert app.extensions["shopqa"].staff_accounts().names() == ["bob", "carl"]
    client = app.test_client()
    assert post_login(client, "carl", PASSWORD).status_code == 302 and client.get("/console").status_code == 200
    assert post_login(app.test_client(), "alice", "s3cret").status_code == 302  # the config's accounts still work


def test_the_config_account_wins_a_name_clash(tiny_index, hash_embedder, tmp_path):
    app, _ = make_app(tiny_index, hash_embedder, tmp_path, staff_users={"alice": generate_password_hash("s3cret")})
    app.extensions["shopqa"].staff_accounts().add("alice", PASSWORD)  # e.g. stored before the config named her
    assert post_login(app.test_client(), "alice", PASSWORD).status_code == 401
    assert post_login(app.test_client(), "alice", "s3cret").status_code == 302


# -- protected logins ----------------------------------------------------------------------------

def test_lockout_per_account_refuses_even_the_right_password(tiny_index, hash_embedder, tmp_path, caplog):
    app, _ = make_app(tiny_index, hash_embedder, tmp_path, staff_users={"alice": generate_password_hash("s3cret")})
    attacker = app.test_client()
    with caplog.at_level(logging.INFO, logger="shopqa.auth"):
        codes = [post_login(attacker, "alice", f"guess-{i}").status_code for i in range(5)]
        locked = post_login(attacker, "alice", "s3cret")
        # Another client with the right password: the account itself is locked.
        owner = post_login(app.test_client(), "alice", "s3cret", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert codes == [401] * 5
    retry = int(locked.headers["Retry-After"])
    assert locked.status_code == 429 and 600 <= retry <= 901  # the 15-minute window, less the test's own time
    page = locked.data.decode()
    assert "Too many failed logins" in page and f"Try again in {-(-retry // 60)} minutes" in page and "UTC" in page
    assert owner.status_code == 429 and attacker.get("/console").status_code == 302
    messages = [r.getMessage() for r in caplog.records if r.name == "shopqa.auth"]
    assert sum("login failed" in m for m in messages) == 5
    assert any("login locked" in m for m in messages) and any("login refused, locked" in m for m in messages)
    assert all("'alice'" in m and "127.0.0.1" in m or "10.0.0.9" in m for m in messages)
    assert not any("guess-" in m or "s3cret" in m for m in messages)


def test_lockout_per_client_across_account_names(tiny_index, hash_embedder, tmp_path):
    app, _ = make_app(tiny_index, hash_embedder, tmp_path, staff_users={"alice": generate_password_hash("s3cret")},
                      login_max_failures=3)
    client = app.test_client()
    assert [post_login(client, f"user{i}", "x").status_code for i in range(3)] == [401] * 3
    assert post_login(client, "alice", "s3cret").status_code == 429  # this address is locked
    other = app.test_client()
    ok = post_login(other, "alice", "s3cret", environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert ok.status_code == 302  # alice's account is not locked: the failures were other names


def test_trust_proxy_counts_the_forwarded_client(tiny_index, hash_embedder, tmp_path):
    users = {"alice": generate_password_hash("s3cret")}
    for trust, expected in ((True, 302), (False, 429)):
        app, _ = make_app(tiny_index, hash_embedder, tmp_path / str(trust), staff_users=users,
                          login_max_failures=2, trust_proxy=trust)
        client = app.test_client()
        for name in ("x", "y"):
            post_login(client, name, "nope", headers={"X-Forwarded-For": "203.0.113.5"})
        got = post_login(client, "alice", "s3cret", headers={"X-Forwarded-For": "203.0.113.77"})
        assert got.status_code == expected, trust


def test_a_success_clears_the_account_failures(tiny_index, hash_embedder, tmp_path):
    app, _ = make_app(tiny_index, hash_embedder, tmp_path, staff_users={"alice": generate_password_hash("s3cret")},
                      login_max_failures=3)
    for addr in ("10.0.0.1", "10.0.0.2"):
        post_login(app.test_client(), "alice", "wrong", environ_base={"REMOTE_ADDR": addr})
    assert post_login(app.test_client(), "alice", "s3cret", environ_base={"REMOTE_ADDR": "10.0.0.3"}).status_code == 302
    post_login(app.test_client(), "alice", "wrong", environ_base={"REMOTE_ADDR": "10.0.0.4"})
    post_login(app.test_client(), "alice", "wrong", environ_base={"REMOTE_ADDR": "10.0.0.5"})
    assert post_login(app.test_client(), "alice", "s3cret", environ_base={"REMOTE_ADDR": "10.0.0.6"}).status_code == 302


def test_the_lock_lifts_when_the_window_passes(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(login_guard.time, "monotonic", lambda: now[0])
    guard = LoginGuard(LocalFailures(limit=2, window=60))
    assert guard.failed("alice", "1.2.3.4") == 0
    now[0] += 10
    assert guard.failed("alice", "1.2.3.4") == 51  # until the first failure is 60 s old
    assert guard.locked("alice", "9.9.9.9") == 51 and guard.locked("bob", "1.2.3.4") == 51
    now[0] += 51
    assert guard.locked("alice", "1.2.3.4") == 0
    assert guard.failed("alice", "1.2.3.4") == 10  # the second failure is still in the window
    assert guard.failures._times.keys() == {"user:alice", "client:1.2.3.4"}


def test_session_cookie_lifetime_and_secure_flag(tiny_index, hash_embedder, tmp_path):
    users = {"alice": generate_password_hash("s3cret")}
    for secure in (False, True):
        app, _ = make_app(tiny_index, hash_embedder, tmp_path / str(secure), staff_users=users,
                          secure_cookies=secure, session_lifetime_minutes=30)
        # The secure cookie comes back from the test client only over https.
        base = "https://localhost" if secure else "http://localhost"
        client = app.test_client()
        page = client.get("/login", base_url=base).data.decode()
        csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
        resp = client.post("/login", base_url=base, data={"username": "alice", "password": "s3cret", "csrf_token": csrf})
        assert resp.status_code == 302
        cookie = SimpleCookie(resp.headers["Set-Cookie"])["session"]
        assert bool(cookie["secure"]) is secure and cookie["httponly"]
        left = parsedate_to_datetime(cookie["expires"]).timestamp() - time.time()
        assert 29 * 60 <= left <= 30 * 60 + 5  # permanent: the login lasts session_lifetime_minutes


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    from engines import RedisServer

    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


def test_redis_failures_are_shared_by_replicas(redis_url):
    one, two = (LoginGuard(RedisFailures(redis_client(redis_url), 3, 900, prefix="t-login:")) for _ in range(2))
    assert [one.failed("alice", "a"), two.failed("alice", "b")] == [0, 0]
    assert 890 <= one.failed("alice", "c") <= 900  # the third failure, counted over both replicas
    assert 890 <= two.locked("alice", "d") <= 900 and two.locked("bob", "d") == 0
    one.succeeded("alice")
    assert two.locked("alice", "d") == 0


def test_redis_down_still_limits_in_this_process():
    guard = LoginGuard(RedisFailures(redis_client("redis://127.0.0.1:9/0"), 2, 900))  # port 9: nothing listens
    assert guard.failed("alice", "a") == 0 and guard.failed("alice", "a") > 0
    assert guard.locked("alice", "z") > 0


def test_app_uses_redis_for_login_failures(tiny_index, hash_embedder, tmp_path, redis_url):
    users = {"alice": generate_password_hash("s3cret")}
    apps = [make_app(tiny_index, hash_embedder, tmp_path / str(i), staff_users=users, redis_url=redis_url,
                     login_max_failures=2)[0] for i in range(2)]
    assert apps[0].extensions["shopqa_login_guard"].failures.backend == "redis"
    post_login(apps[0].test_client(), "alice", "wrong", environ_base={"REMOTE_ADDR": "10.1.0.1"})
    post_login(apps[1].test_client(), "alice", "wrong", environ_base={"REMOTE_ADDR": "10.1.0.2"})
    assert post_login(apps[0].test_client(), "alice", "s3cret",
                      environ_base={"REMOTE_ADDR": "10.1.0.3"}).status_code == 429


@pytest.mark.slow
def test_store_and_setup_tokens_on_postgres():
    from engines import PostgresServer
    from shopqa.storage.engine import database_engine

    with PostgresServer() as server:
        engine = database_engine(server.url, pool_size=2)
        try:
            store, again = StaffAccountStore(engine=engine), StaffAccountStore(engine=engine)
            tokens = SetupTokens(store)
            token = tokens.issue()
            assert SetupTokens(again).consume(token) and not tokens.consume(token)
            store.add("bob", PASSWORD, only_if_empty=True)
            with pytest.raises(AccountError, match="exists already"):
                again.add("carl", PASSWORD, only_if_empty=True)
            with pytest.raises(AccountError, match="already taken"):
                again.add("bob", PASSWORD)
            again.add("carl", PASSWORD)
            assert again.names() == ["bob", "carl"] and store.check("carl", PASSWORD) and again.count() == 2
        finally:
            engine.dispose()


def test_login_returns_to_the_shared_link_with_its_query_and_never_to_another_site(tiny_index, hash_embedder,
                                                                                   tmp_path):
    app, _ = make_app(tiny_index, hash_embedder, tmp_path,
                      staff_users={"alice": generate_password_hash(PASSWORD)})
    client = app.test_client()
    first = client.get("/search?q=PayPal&type=faq")
    assert first.status_code == 302 and "next=/search?q%3DPayPal%26type%3Dfaq" in first.headers["Location"]
    done = client.post("/login?next=/search?q%3DPayPal%26type%3Dfaq",
                       data={"username": "alice", "password": PASSWORD, "csrf_token": csrf_of(client)})
    assert done.headers["Location"] == "/search?q=PayPal&type=faq"
    for target in ("//evil.example/x", "/\\evil.example/x", "https://evil.example/"):
        other = app.test_client()
        done = other.post(f"/login?next={target}",
                          data={"username": "alice", "password": PASSWORD, "csrf_token": csrf_of(other)})
        assert done.headers["Location"] == "/console", target
