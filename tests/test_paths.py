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


def test_a_feedapp_data_that_is_a_file_is_named_in_the_one_line(monkeypatch, tmp_path, capsys):
    """FEEDAPP_DATA set (long ago, in a shell profile) to a file: `play` and `scan` said '.../feed.db is not a
    usable SQLite database (unable to open database file). It was left untouched; move it aside', about
    a file that does not exist, and never named the variable."""
    from feedapp.cli import main

    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    (tmp_path / "clips").mkdir()
    for data, words in ((a_file, "cannot create the database feed.db in "),
                        (a_file / "sub", "cannot create the folder for the database ")):
        monkeypatch.setenv("FEEDAPP_DATA", str(data))
        assert main(["scan", str(tmp_path / "clips")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0], err
        assert err[0].endswith(f"(it is the environment variable FEEDAPP_DATA={data}); point FEEDAPP_DATA at a "
                               "folder or unset it")
    assert a_file.read_text() == "mine"
