"""Each bad-input case gives a DataError naming the file, the row and the field."""

import gzip

import pytest

from shoptune.data.errorlog import ErrorLog
from shoptune.data.readers import as_choice, iter_csv, iter_jsonl
from shoptune.errors import DataError


def _rows(path, **kw):
    return list(iter_csv(path, log=kw.pop("log", ErrorLog()), **kw))


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv: file, field '-': file not found"):
        _rows(tmp_path / "nope.csv", required=["a"])


def test_empty_file(tmp_path):
    (tmp_path / "e.csv").write_text("\n\n")
    with pytest.raises(DataError, match=r"e\.csv: file, field '-': file is empty"):
        _rows(tmp_path / "e.csv", required=["a"])


def test_missing_column(tmp_path):
    (tmp_path / "m.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match=r"m\.csv: file, field 'c': missing column"):
        _rows(tmp_path / "m.csv", required=["a", "c"])


def test_wrong_encoding_utf8(tmp_path):
    (tmp_path / "w.csv").write_bytes("a,b\n1,ok\n2,caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"w\.csv: row 3, field '-': wrong encoding: line 3"):
        _rows(tmp_path / "w.csv", required=["a"])


def test_wrong_encoding_latin1_utf16(tmp_path):
    (tmp_path / "u.csv").write_bytes("a,b\n1,2\n".encode("utf-16"))
    with pytest.raises(DataError, match=r"u\.csv: row 1, field '-': wrong encoding: NUL bytes"):
        _rows(tmp_path / "u.csv", required=["a"], encoding="latin-1")


def test_row_cut_off_mid_field_unterminated_quote(tmp_path):
    (tmp_path / "c.csv").write_text('a,b\n1,"x"\n2,"cut off here')
    with pytest.raises(DataError, match=r"c\.csv: row 2, field '-': row cut off mid-field"):
        _rows(tmp_path / "c.csv", required=["a", "b"])


def test_row_cut_off_too_few_fields(tmp_path):
    (tmp_path / "f.csv").write_text("a,b,c\n1,2,3\n4,5\n")
    with pytest.raises(DataError, match=r"f\.csv: row 2, field 'c': row cut off: 2 of 3 fields"):
        _rows(tmp_path / "f.csv", required=["a"])


def test_unknown_label_names_row_and_field(tmp_path):
    (tmp_path / "l.csv").write_text("text,label\nhi,1\nyo,maybe\n")
    rows = _rows(tmp_path / "l.csv", required=["label"])
    assert as_choice(rows[0], "label", {"0": 0, "1": 1}) == 1
    with pytest.raises(DataError, match=r"l\.csv: row 2, field 'label': unknown label 'maybe'"):
        as_choice(rows[1], "label", {"0": 0, "1": 1})


def test_skip_policy_counts_bad_rows(tmp_path):
    (tmp_path / "s.csv").write_text("a,b,c\n1,2,3\n4,5\n6,7,8\n")
    log = ErrorLog(on_error="skip")
    rows = _rows(tmp_path / "s.csv", required=["a"], log=log)
    assert [r["a"] for r in rows] == ["1", "6"]
    assert log.skipped == 1 and "row 2" in log.examples[0]


def test_jsonl_truncated_last_line(tmp_path):
    path = tmp_path / "d.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"a": 1}\n{"a": 2, "b": "cut'))
    with pytest.raises(DataError, match=r"d\.jsonl\.gz: row 2, field '-': invalid JSON"):
        list(iter_jsonl(path, log=ErrorLog()))
    log = ErrorLog(on_error="skip")
    assert [r["a"] for r in iter_jsonl(path, log=log)] == [1] and log.skipped == 1


def test_csv_rows_carry_row_numbers_and_multiline_fields(tmp_path):
    (tmp_path / "q.csv").write_text('a,b\n1,"line one\nline two"\n2,x\n')
    rows = _rows(tmp_path / "q.csv", required=["a", "b"])
    assert [(r["_row"], r["b"]) for r in rows] == [(1, "line one\nline two"), (2, "x")]
