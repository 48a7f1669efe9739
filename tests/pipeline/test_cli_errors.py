"""One error path for the CLI: the user's mistakes exit 2 with what to do, runtime failures
exit 1 in words, and a traceback shows only with --debug."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli

PIPELINE = """CREATE SOURCE events (id BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = '{data}');
CREATE SINK out WITH (connector = 'file', path = '{out}', format = 'json', buffer_interval = '0 s');
INSERT INTO out SELECT id FROM events;
"""


def pipeline(tmp_path: Path) -> Path:
    data = tmp_path / "events.ndjson"
    data.write_text('{"id": 1, "ts": "2024-01-01T00:00:00"}\n')
    path = tmp_path / "p.sql"
    path.write_text(PIPELINE.format(data=data, out=tmp_path / "out"))
    return path


def test_a_misspelt_flag_or_command_gets_a_suggestion(tmp_path: Path) -> None:
    result = run_cli("run", str(pipeline(tmp_path)), "--untl-caught-up")
    assert result.code == 2 and "did you mean --until-caught-up?" in result.stderr
    result = run_cli("vaildate", str(pipeline(tmp_path)))
    assert result.code == 2 and "did you mean validate?" in result.stderr


def test_a_port_out_of_range_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("run", str(pipeline(tmp_path)), "--metrics-port", "99999")
    assert result.code == 2 and "99999 is no port: use 1 to 65535" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unusable_state_dir_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    result = run_cli("run", str(pipeline(tmp_path)), "--state-dir", str(tmp_path / "a-file" / "state"))
    assert result.code == 2, result.stderr
    assert "cannot use the state directory" in result.stderr and "Not a directory" in result.stderr


def test_a_corrupt_checkpoint_says_how_to_go_on(tmp_path: Path) -> None:
    path = pipeline(tmp_path)
    state = tmp_path / "state"
    assert run_cli("run", str(path), "--state-dir", str(state)).code == 0
    checkpoints = sorted(state.rglob("state.json"))
    assert checkpoints
    checkpoints[-1].write_text("{ not json")
    result = run_cli("run", str(path), "--state-dir", str(state))
    assert result.code == 2, result.stderr
    assert "cannot be read" in result.stderr and "--reset" in result.stderr and "Traceback" not in result.stderr
    assert run_cli("run", str(path), "--state-dir", str(state), "--reset").code == 0


def test_a_traceback_shows_only_with_debug(tmp_path: Path) -> None:
    broken = tmp_path / "broken.sql"
    broken.write_text("INSERT INTO out SELEC 1;\n")
    quiet = run_cli("validate", str(broken))
    assert quiet.code == 2 and "Traceback" not in quiet.stderr
    loud = run_cli("--debug", "validate", str(broken))
    assert loud.code == 2 and "Traceback" in loud.stderr
    assert run_cli("validate", str(broken), env={"FLOWSQL_DEBUG": "1"}).stderr.count("Traceback") == 1


def test_a_missing_pipeline_file_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("validate", str(tmp_path / "nothing.sql"))
    assert result.code == 2 and "cannot read pipeline file" in result.stderr
