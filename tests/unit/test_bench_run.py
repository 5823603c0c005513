"""`python -m bench.run` (make bench): the environment chooses what runs; `--help` says how
and no argument is silently ignored (one would otherwise start the whole run)."""

from __future__ import annotations

import pytest
from bench.run import check_arguments


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_lists_every_variable_and_stops(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        check_arguments([flag])
    assert stopped.value.code == 0
    printed = capsys.readouterr().out
    for variable in ("SIZES", "SECONDS", "BACKENDS", "SCENARIOS", "SOAK_SECONDS", "PEER"):
        assert f"BENCH_{variable} " in printed


def test_any_other_argument_is_refused_naming_it() -> None:
    with pytest.raises(SystemExit, match=r"bench: '--sizes 10': no arguments; see --help"):
        check_arguments(["--sizes", "10"])


def test_no_argument_lets_the_run_go_on() -> None:
    check_arguments([])
