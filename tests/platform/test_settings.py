"""Settings: read once from the environment and .env; a bad value stops start-up naming the setting."""

from pathlib import Path

import pytest

from bot.platform.settings import AppType, SettingsError, describe, load_settings

APP = "00000000-0000-0000-0000-0000000000a1"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
GOOD = {"MicrosoftAppId": APP, "MicrosoftAppPassword": "s3cret", "MicrosoftAppTenantId": TENANT}


def test_defaults_for_a_configured_bot() -> None:
    s = load_settings(GOOD, dotenv=None)
    assert s.app_type is AppType.SINGLE_TENANT
    assert (s.host, s.port) == ("0.0.0.0", 3978)
    assert s.database_url.startswith("sqlite:///")
    assert s.bot_openid_metadata_url == "https://login.botframework.com/v1/.well-known/openidconfiguration"


def test_settings_are_frozen() -> None:
    s = load_settings(GOOD, dotenv=None)
    with pytest.raises(AttributeError):
        s.port = 1  # type: ignore[misc]


def test_no_app_id_and_no_flag_refuses_to_start() -> None:
    with pytest.raises(SettingsError, match=r"MicrosoftAppId is missing.*DANGEROUSLY_ALLOW_ANONYMOUS"):
        load_settings({}, dotenv=None)


def test_anonymous_needs_the_dangerous_flag() -> None:
    s = load_settings({"COURIER_DANGEROUSLY_ALLOW_ANONYMOUS": "1"}, dotenv=None)
    assert s.anonymous


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "eighty"),
        ("PORT", "70000"),
        ("MicrosoftAppId", "not-a-guid"),
        ("MicrosoftAppType", "Everyone"),
        ("COURIER_DATABASE_URL", "mysql://x"),
        ("COURIER_LOGIN_AUTHORITY_HOST", "http://login.example"),
        ("COURIER_GRAPH_BASE_URL", "graph"),
        ("COURIER_ALLOWED_TENANTS", "contoso"),
        ("COURIER_DANGEROUSLY_ALLOW_ANONYMOUS", "maybe"),
        ("COURIER_ENCRYPTION_KEY", "short"),
    ],
)
def test_a_malformed_setting_is_named_in_one_line(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({**GOOD, name: value}, dotenv=None)
    message = str(caught.value)
    assert caught.value.name == name
    assert name in message and "\n" not in message


def test_single_tenant_needs_a_tenant_id() -> None:
    env = dict(GOOD)
    env.pop("MicrosoftAppTenantId")
    with pytest.raises(SettingsError, match="MicrosoftAppTenantId"):
        load_settings(env, dotenv=None)


def test_a_credential_is_required() -> None:
    env = dict(GOOD)
    env.pop("MicrosoftAppPassword")
    with pytest.raises(SettingsError, match="MicrosoftAppPassword"):
        load_settings(env, dotenv=None)


def test_allowed_tenants_are_a_normalized_set() -> None:
    s = load_settings({**GOOD, "COURIER_ALLOWED_TENANTS": f"{TENANT.upper()}, {APP}"}, dotenv=None)
    assert s.allowed_tenants == frozenset({TENANT, APP})
    assert s.tenant_allowed(TENANT) and not s.tenant_allowed("11111111-1111-1111-1111-111111111111")


def test_dotenv_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        f'# local\nexport MicrosoftAppId={APP}\nMicrosoftAppPassword="from file"\n'
        f"MicrosoftAppTenantId={TENANT}\nPORT=4000\n",
        encoding="utf-8",
    )
    s = load_settings({"PORT": "5000"}, dotenv=dotenv)
    assert s.app_id == APP and s.app_password == "from file"
    assert s.port == 5000


def test_a_broken_dotenv_line_is_named(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("this is not a setting\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"\.env:1"):
        load_settings({}, dotenv=dotenv)


def test_secrets_never_appear_in_repr_or_describe() -> None:
    s = load_settings({**GOOD, "COURIER_ENCRYPTION_KEY": "k" * 40}, dotenv=None)
    assert "s3cret" not in repr(s)
    assert "k" * 40 not in repr(s)
    described = describe(s)
    assert described["app_password"] == "(set)"
    assert "s3cret" not in str(described)


def test_delegated_sign_in_needs_an_encryption_key() -> None:
    with pytest.raises(SettingsError, match="COURIER_ENCRYPTION_KEY is missing"):
        load_settings({**GOOD, "COURIER_PUBLIC_URL": "https://courier.contoso.com"}, dotenv=None)


def test_delegated_sign_in_with_a_key_starts() -> None:
    s = load_settings(
        {**GOOD, "COURIER_PUBLIC_URL": "https://courier.contoso.com", "COURIER_ENCRYPTION_KEY": "k" * 40}, dotenv=None
    )
    assert s.public_url == "https://courier.contoso.com"


def test_local_anonymous_mode_listens_on_loopback_by_default() -> None:
    s = load_settings({"COURIER_DANGEROUSLY_ALLOW_ANONYMOUS": "1"}, dotenv=None)
    assert s.host == "127.0.0.1"


def test_local_anonymous_mode_listens_where_host_says() -> None:
    s = load_settings({"COURIER_DANGEROUSLY_ALLOW_ANONYMOUS": "1", "HOST": "0.0.0.0"}, dotenv=None)
    assert s.host == "0.0.0.0"


def test_senders_accept_any_id_without_spaces_or_commas_such_as_the_playgrounds() -> None:
    playground_user = "00000000-0000-0000-0000-0000000000020"  # not a GUID
    s = load_settings({**GOOD, "COURIER_SENDERS": f"{playground_user}, user-id-0 ABC"}, dotenv=None)
    assert s.senders == frozenset({playground_user, "user-id-0", "abc"})


def test_a_sender_id_with_a_control_character_is_refused() -> None:
    with pytest.raises(SettingsError, match="COURIER_SENDERS is malformed"):
        load_settings({**GOOD, "COURIER_SENDERS": "abc\x00def"}, dotenv=None)
