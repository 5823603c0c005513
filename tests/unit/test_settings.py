from __future__ import annotations

import pytest

from ivrlog.settings import Settings, SettingsError, describe


def test_defaults_are_valid() -> None:
    settings = Settings()
    assert (settings.host, settings.port, settings.detail_retention_days) == ("127.0.0.1", 8080, 5)


@pytest.mark.parametrize(
    ("values", "name"),
    [
        ({"port": 0}, "port"),
        ({"port": 70000}, "port"),
        ({"detail_retention_days": 0}, "detail_retention_days"),
        ({"log_level": "loud"}, "log_level"),
        ({"database": ""}, "database"),
    ],
)
def test_bad_values_name_the_setting(values: dict[str, object], name: str) -> None:
    with pytest.raises(SettingsError, match=f"^{name}:"):
        Settings(**values)  # type: ignore[arg-type]


def test_every_setting_has_flag_env_and_help() -> None:
    infos = describe()
    assert [i.name for i in infos] == [
        "database",
        "host",
        "port",
        "detail_retention_days",
        "log_level",
    ]
    for info in infos:
        assert info.env == "IVRLOG_" + info.name.upper()
        assert info.flag.startswith("--")
        assert info.help
        assert isinstance(info.default, info.type)
    assert next(i for i in infos if i.name == "database").flag == "--db"
