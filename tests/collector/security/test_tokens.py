"""Token sources, constant-time matching, rotation and reload, header checks, and the
``tls``/``auth`` configuration sections (no sockets)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mlspan.collector.exporters.otlp.config import OtlpExporterConfig
from mlspan.collector.pipeline.factory import ConfigError, parse_dataclass
from mlspan.collector.receivers.otlp.config import OtlpReceiverConfig
from mlspan.collector.security import (
    ApiAccess,
    ApiWritesConfig,
    AuthConfig,
    BearerAuthenticator,
    BearerCredentials,
    BearerTokensConfig,
    TokenError,
    TokenSet,
    Verdict,
    warn_if_exposed,
)
from mlspan.collector.service.config import ApiConfig


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_tokens_from_a_file_and_a_variable_all_match(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text("first-token-aaaaaaaa\n\nsecond-token-bbbbbbbb\n")
    config = BearerTokensConfig(token_file=str(path), token_env="MY_TOKENS")
    tokens = TokenSet(config, environ={"MY_TOKENS": "third-token-cccccccc, fourth-token-dddddd"})
    assert len(tokens) == 4
    for token in ("first-token-aaaaaaaa", "second-token-bbbbbbbb", "fourth-token-dddddd"):
        assert tokens.matches(token)
    assert not tokens.matches("first-token-aaaaaaa")  # a prefix is not the token
    assert not tokens.matches("")
    assert tokens.first == "first-token-aaaaaaaa"


def test_a_rotated_file_is_read_again_without_restart(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("old-token-0123456789\n")
    clock = _Clock()
    tokens = TokenSet(BearerTokensConfig(token_file=str(path)), clock=clock)
    path.write_text("new-token-0123456789-longer\n")
    assert tokens.matches("old-token-0123456789")  # checked at most once per second
    clock.now += 1.5
    assert tokens.matches("new-token-0123456789-longer")
    assert not tokens.matches("old-token-0123456789")
    path.unlink()  # a Secret update swaps files: keep what was loaded meanwhile
    clock.now += 1.5
    assert tokens.matches("new-token-0123456789-longer")


def test_missing_or_empty_sources_fail_at_start(tmp_path: Path) -> None:
    with pytest.raises(TokenError, match="not set"):
        TokenSet(BearerTokensConfig(token_env="UNSET_VARIABLE"), environ={})
    with pytest.raises(TokenError, match="cannot read token_file"):
        TokenSet(BearerTokensConfig(token_file=str(tmp_path / "absent")))
    empty = tmp_path / "empty"
    empty.write_text("\n \n")
    with pytest.raises(TokenError, match="no token"):
        TokenSet(BearerTokensConfig(token_file=str(empty)))


def test_short_tokens_are_logged_as_weak(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        TokenSet(BearerTokensConfig(token_env="T"), environ={"T": "short"})
    assert "shorter than 16" in caplog.text


def test_bearer_header_checks() -> None:
    tokens = TokenSet(BearerTokensConfig(token_env="T"), environ={"T": "secret-token-0123456789"})
    auth = BearerAuthenticator(tokens)
    assert auth.check(None) is Verdict.MISSING
    assert auth.check("") is Verdict.MISSING
    assert auth.check("Bearer secret-token-0123456789") is Verdict.ACCEPTED
    assert auth.check("bearer secret-token-0123456789") is Verdict.ACCEPTED  # RFC 7235
    assert auth.check("Basic secret-token-0123456789") is Verdict.INVALID
    assert auth.check("Bearer wrong") is Verdict.INVALID
    assert auth.check("Bearer") is Verdict.INVALID
    assert auth.check_headers({"AUTHORIZATION": "Bearer secret-token-0123456789"}) is (
        Verdict.ACCEPTED
    )
    assert auth.check_metadata([("authorization", "Bearer wrong")]) is Verdict.INVALID
    assert auth.check_metadata(None) is Verdict.MISSING
    assert 'error="invalid_token"' in auth.deny(Verdict.INVALID).challenge
    assert "error=" not in auth.deny(Verdict.MISSING).challenge
    credentials = BearerCredentials(tokens)
    assert credentials.header() == ("authorization", "Bearer secret-token-0123456789")


def _access(writes: ApiWritesConfig, read: bool = True) -> ApiAccess:
    auth = AuthConfig(BearerTokensConfig(token_env="MLSPAN_TEST_READ")) if read else None
    return ApiAccess.from_config(auth, writes)


def _status(access: ApiAccess, method: str, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    refusal = access.check(method, headers)
    return 200 if refusal is None else refusal.status


def test_api_access_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLSPAN_TEST_READ", "read-token-0123456789")
    monkeypatch.setenv("MLSPAN_TEST_WRITE", "write-token-0123456789")
    write_auth = AuthConfig(BearerTokensConfig(token_env="MLSPAN_TEST_WRITE"))
    separate = _access(ApiWritesConfig(auth=write_auth))
    read, write = "read-token-0123456789", "write-token-0123456789"
    assert [_status(separate, "GET", t) for t in (None, "bad", read, write)] == [401, 401, 200, 200]
    assert [_status(separate, "POST", t) for t in (None, "bad", read, write)] == [
        401,
        401,
        403,
        200,
    ]
    shared = _access(ApiWritesConfig())
    assert [_status(shared, "PUT", t) for t in (None, read)] == [401, 200]
    disabled = _access(ApiWritesConfig(enabled=False, auth=write_auth))
    assert [_status(disabled, "DELETE", t) for t in (None, read, write)] == [403, 403, 403]
    assert _status(disabled, "GET", read) == 200
    open_api = _access(ApiWritesConfig(), read=False)
    assert open_api.open_to_anyone
    assert _status(open_api, "POST", None) == 200


def test_config_sections_are_checked() -> None:
    grpc_auth = {"protocols": {"grpc": {"auth": {"bearer_tokens": {"token": "inline"}}}}}
    with pytest.raises(ConfigError, match="unknown key 'token'"):
        parse_dataclass(OtlpReceiverConfig, grpc_auth, "receivers.otlp")
    with pytest.raises(ConfigError, match="token_file, token_env"):
        parse_dataclass(AuthConfig, {"bearer_tokens": {}}, "auth")
    with pytest.raises(ConfigError, match="cert_file and key_file"):
        parse_dataclass(ApiConfig, {"tls": {"cert_file": "a.crt"}}, "api")
    with pytest.raises(ConfigError, match="min_version"):
        parse_dataclass(
            ApiConfig, {"tls": {"cert_file": "a", "key_file": "b", "min_version": "1.0"}}, "api"
        )
    with pytest.raises(ConfigError, match="https"):
        parse_dataclass(
            OtlpExporterConfig,
            {"endpoint": "http://h:4318", "protocol": "http", "tls": {"ca_file": "ca"}},
            "exporters.otlp",
        )
    grpc_tls = parse_dataclass(OtlpExporterConfig, {"endpoint": "h:4317", "tls": {}}, "e")
    assert grpc_tls.secure
    insecure = {"endpoint": "h:4317", "tls": {"insecure": True}}
    assert not parse_dataclass(OtlpExporterConfig, insecure, "e").secure
    assert not parse_dataclass(OtlpExporterConfig, {"endpoint": "h:4317"}, "e").secure


@pytest.mark.parametrize(
    ("host", "authenticated", "warned"),
    [
        ("0.0.0.0", False, True),
        ("::", False, True),
        ("10.1.2.3", False, True),
        ("0.0.0.0", True, False),
        ("127.0.0.1", False, False),
        ("::1", False, False),
        ("localhost", False, False),
    ],
)
def test_non_loopback_without_auth_warns(
    caplog: pytest.LogCaptureFixture, host: str, authenticated: bool, warned: bool
) -> None:
    with caplog.at_level(logging.INFO):
        fired = warn_if_exposed("query API", host, authenticated, encrypted=False)
    assert fired is warned
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert bool(warnings) is warned
    if warned:
        assert "without authentication" in warnings[0].getMessage()
