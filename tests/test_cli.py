"""The kamlab command line: exit codes and readable messages."""

from __future__ import annotations

import subprocess
import sys

from kamlab.cli import main


def test_validate_sample_exits_zero(sample_dir, capsys):
    assert main(["validate", str(sample_dir)]) == 0
    out = capsys.readouterr().out
    assert "valid" in out and "transactions.csv" in out and "no rows dropped" in out


def test_validate_bad_data_exits_one_with_column(tiny_dir, capsys):
    text = (tiny_dir / "transactions.csv").read_text().replace("100.50", "abc")
    (tiny_dir / "transactions.csv").write_text(text)
    assert main(["validate", str(tiny_dir)]) == 1
    err = capsys.readouterr().err
    assert "invalid data: transactions.csv: column 'amount'" in err
    assert "Traceback" not in err


def test_validate_drop_prints_ledger(tiny_dir, capsys):
    text = (tiny_dir / "transactions.csv").read_text().replace("T4,A3", "T4,ZZ9")
    (tiny_dir / "transactions.csv").write_text(text)
    assert main(["validate", "--drop", str(tiny_dir)]) == 0
    out = capsys.readouterr().out
    assert "unknown_account" in out and "ZZ9" in out


def test_validate_with_yaml_mapping(tiny_dir, tmp_path, capsys):
    text = (tiny_dir / "transactions.csv").read_text().replace("account_id,date", "cust,day")
    (tiny_dir / "transactions.csv").write_text(text)
    mapping = tmp_path / "map.yaml"
    mapping.write_text("transactions:\n  cust: account_id\n  day: date\n")
    assert main(["validate", "--map", str(mapping), str(tiny_dir)]) == 0


def test_validate_missing_folder(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope")]) == 1
    assert "no such file or directory" in capsys.readouterr().err


def test_synth_writes_folder(tmp_path, capsys):
    assert (
        main(
            [
                "synth",
                "--accounts",
                "20",
                "--years",
                "1",
                "--seed",
                "3",
                "--out",
                str(tmp_path / "s"),
            ]
        )
        == 0
    )
    assert (tmp_path / "s" / "truth.json").exists()
    assert main(["validate", str(tmp_path / "s")]) == 0


def test_console_script_help():
    result = subprocess.run(
        [sys.executable, "-m", "kamlab.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert "synth" in result.stdout and "validate" in result.stdout and "run" in result.stdout


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "usage: kamlab" in capsys.readouterr().out


def test_run_rejects_bad_param(capsys, sample_dir):
    assert main(["run", "--data", str(sample_dir), "-p", "seed"]) == 1
    assert "-p expects NAME=VALUE, got 'seed'" in capsys.readouterr().err
