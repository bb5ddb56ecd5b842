"""Which oslo.config arguments a WSGI process boots with."""

from hypothesis import given, strategies as st

from heat_wsgi import config_args


def test_argv_config_file_forms_are_picked_and_server_args_dropped():
    argv = ["gunicorn", "-b", "127.0.0.1:8004", "--config-file", "/a.conf",
            "--config-file=/b.conf", "--workers", "4", "--config-dir", "/d"]
    chosen = config_args.choose(argv, {})
    assert chosen.origin == "argv"
    assert chosen.args == ("--config-file", "/a.conf", "--config-file", "/b.conf",
                           "--config-dir", "/d")
    assert chosen.config_files == ("/a.conf", "/b.conf")
    assert chosen.config_dirs == ("/d",)


def test_environment_files_are_relative_to_the_config_dir():
    env = {"OS_HEAT_CONFIG_FILES": "heat.conf; /abs/extra.conf;",
           "OS_HEAT_CONFIG_DIR": "/srv/heat"}
    chosen = config_args.choose(["mod_wsgi"], env)
    assert chosen.origin == "environment"
    assert chosen.config_files == ("/srv/heat/heat.conf", "/abs/extra.conf")


def test_config_dir_alone_means_heat_conf_in_it():
    chosen = config_args.choose(["uwsgi"], {"OS_HEAT_CONFIG_DIR": "/srv/heat"})
    assert chosen.config_files == ("/srv/heat/heat.conf",)


def test_argv_wins_over_environment():
    chosen = config_args.choose(["uwsgi", "--config-file", "/x.conf"],
                                {"OS_HEAT_CONFIG_FILES": "/y.conf"})
    assert chosen.config_files == ("/x.conf",)


def test_nothing_given_falls_back_to_the_default_search():
    chosen = config_args.choose(["uwsgi"], {})
    assert chosen == config_args.ConfigArgs((), "default search")


def test_default_search_paths_follow_oslo_order():
    paths = config_args.default_search_paths("heat", "heat-api", {"HOME": "/h"})
    assert paths[:2] == ("/h/.heat/heat.conf", "/h/.heat/heat-api.conf")
    assert "/etc/heat/heat.conf" in paths
    assert paths.index("/etc/heat/heat.conf") < paths.index("/etc/heat.conf")


server_args = st.lists(st.text(min_size=1).filter(
    lambda s: not s.startswith(("--config-file", "--config-dir"))), max_size=6)


@given(server_args, st.lists(st.text(min_size=1, alphabet="abc/._"), max_size=3))
def test_only_config_options_ever_reach_oslo(noise, files):
    argv = ["server", *noise]
    for name in files:
        argv += ["--config-file", name]
    args = config_args.choose(argv, {}).args
    assert [a for a in args[::2]] == ["--config-file"] * len(files)
    assert list(args[1::2]) == files
