"""Where feedapp puts its files: the checkout's data/ and assets/demo, else the user's data folder."""

from __future__ import annotations

from pathlib import Path

from feedapp import config


def test_a_checkout_keeps_data_and_demo_clips_in_the_checkout(monkeypatch):
    monkeypatch.delenv("FEEDAPP_DATA", raising=False)
    monkeypatch.delenv("FEEDAPP_DEMO_DIR", raising=False)
    assert config.is_checkout()  # the tests run from the checkout
    assert config.default_data_dir() == config.ROOT / "data"
    assert config.default_demo_dir() == config.ROOT / "assets" / "demo"


def test_an_installed_copy_uses_the_users_data_folder_not_its_install_folder(monkeypatch, tmp_path):
    site = tmp_path / "site-packages"  # an installed copy: the package without the project's pyproject.toml
    (site / "feedapp").mkdir(parents=True)
    (site / "feedapp" / "__init__.py").write_text("")
    monkeypatch.setattr(config, "ROOT", site)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home-share"))  # platformdirs' Linux data folder
    monkeypatch.delenv("FEEDAPP_DATA", raising=False)
    monkeypatch.delenv("FEEDAPP_DEMO_DIR", raising=False)
    assert not config.is_checkout(site)
    assert config.default_data_dir() == tmp_path / "home-share" / "feedapp" / "data"
    assert config.default_demo_dir() == tmp_path / "home-share" / "feedapp" / "demo"
    assert site not in config.default_data_dir().parents


def test_the_environment_variables_win(monkeypatch, tmp_path):
    monkeypatch.setenv("FEEDAPP_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("FEEDAPP_DEMO_DIR", str(tmp_path / "clips"))
    assert config.default_data_dir() == tmp_path / "d"
    assert config.default_demo_dir() == tmp_path / "clips"
    assert config.is_checkout(tmp_path) is False
    assert isinstance(config.default_data_dir(), Path)


def test_the_zoom_is_remembered_and_odd_files_give_the_default(tmp_path):
    assert config.load_prefs(tmp_path) == {}
    assert config.save_prefs({"zoom": 1.5}, tmp_path)
    assert config.load_prefs(tmp_path) == {"zoom": 1.5}
    (tmp_path / config.PREFS_FILE).write_text("{not json")
    assert config.load_prefs(tmp_path) == {}
    (tmp_path / config.PREFS_FILE).write_text('{"zoom": 40}')  # outside 0.5..3: ignored
    assert config.load_prefs(tmp_path) == {}


def test_scale_outside_its_range_is_refused_in_words(tmp_path):
    import pytest

    with pytest.raises(config.ConfigError, match="--scale must be between 0.5 and 3"):
        config.Settings(db_path=tmp_path / "f.db", scale=7).validate()
    assert config.Settings(db_path=tmp_path / "f.db", scale=1.5).validate().scale == 1.5


def test_scale_on_the_command_line_is_checked_in_one_line(capsys):
    import pytest

    from feedapp.cli import main

    with pytest.raises(SystemExit) as e:
        main(["demo", "--scale", "9"])
    assert e.value.code == 2
    assert "--scale: must be between 0.5 and 3, not 9.0" in capsys.readouterr().err
