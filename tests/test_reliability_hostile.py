"""Hostile inputs: archive bombs and traversal, formula injection, HTML/SVG injection, code in
formulas and configuration.

Each test builds the attack and checks that rlmeta refuses it with its own exception
(naming the problem) or renders it inert.
"""

from __future__ import annotations

import csv
import html.parser
import io
import json
import stat
import struct
import time
import warnings
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import evalgen
import numpy as np
import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

import rlmeta as rm
from rlmeta.errors import ConfigError, DataError, ModelError, ReaderError
from rlmeta.io import Limits, read_sweep
from rlmeta.io._zip import SafeZip
from rlmeta.meta.formula import Design, check_formula

# --------------------------------------------------------------------------- ZIP archives
HEADER = json.dumps(
    {
        "version": 2,
        "status": "success",
        "eval": {"model": "m", "task": "t"},
        "results": {"scores": [{"name": "s", "metrics": {"accuracy": {"value": 0.5}}}]},
    }
).encode()


def _zip(path: Path, members: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for name, data in members.items():
            zf.writestr(
                zipfile.ZipInfo(name, date_time=(2025, 1, 1, 0, 0, 0)), data, compress_type=method
            )
    return path


def test_zip_bomb_by_compression_ratio_is_refused(tmp_path):
    p = _zip(
        tmp_path / "bomb.eval",
        {"header.json": HEADER, "summaries.json": b"[" + b" " * (8 << 20) + b"]"},
    )
    with pytest.raises(
        ReaderError, match=r"compression ratio of \d+, over the limit .*decompression bomb"
    ):
        rm.read_items(p)


def test_zip_member_over_the_size_limit_is_refused_before_decompressing(tmp_path):
    p = _zip(
        tmp_path / "big.eval",
        {"header.json": HEADER, "summaries.json": json.dumps(["x" * 5000]).encode()},
    )
    with pytest.raises(ReaderError, match="over the per-member limit of 1000 bytes"):
        rm.read_items(p, limits=Limits(max_member=1000))


def test_zip_total_uncompressed_limit_spans_members(tmp_path):
    members = {"header.json": HEADER}
    members.update(
        {
            f"samples/{i}_epoch_1.json": json.dumps(
                {"id": i, "epoch": 1, "scores": {"s": {"value": "C"}}, "pad": "x" * 400}
            ).encode()
            for i in range(20)
        }
    )
    p = _zip(tmp_path / "many.eval", members)
    with pytest.raises(ReaderError, match="total uncompressed limit of 3000 bytes"):
        rm.read_items(p, limits=Limits(max_total_uncompressed=3000))


def test_zip_with_too_many_members_is_refused_before_parsing(tmp_path):
    members = {f"m{i}.json": b"1" for i in range(60)}
    p = _zip(tmp_path / "many.eval", {"header.json": HEADER, **members})
    with pytest.raises(ReaderError, match="lists 61 members, over the limit of 50"):
        rm.read(p, limits=Limits(max_members=50))
    assert isinstance(rm.read(p), pd.DataFrame)  # the default limit lets it through


@pytest.mark.parametrize("method", [8, 93], ids=["deflate", "zstd"])
def test_zip_member_that_lies_about_its_size_stops_early(tmp_path, method):
    # a hand-written archive whose headers declare 10 bytes for a member of 3 MB: decompression
    # stops at the declared size (deflate: zipfile reads no further and the CRC fails; zstd:
    # rlmeta's bounded reads stop one chunk past it)
    payload = b"[" + b"0," * (1_500_000) + b"0]"
    raw = bytearray(evalgen._zip_bytes({"header.json": HEADER, "summaries.json": payload}, method))
    declared = struct.pack("<I", 10)
    for sig, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (at := raw.find(sig, start)) >= 0:
            name_len = struct.unpack_from("<H", raw, at + (26 if sig == b"PK\x03\x04" else 28))[0]
            name = raw[at + (30 if sig == b"PK\x03\x04" else 46) :][:name_len]
            if name == b"summaries.json":
                raw[at + size_at : at + size_at + 4] = declared
            start = at + 4
    p = tmp_path / "liar.eval"
    p.write_bytes(bytes(raw))
    t0 = time.perf_counter()
    with pytest.raises(ReaderError, match="larger than its header declares|corrupt"):
        rm.read_items(p)
    assert time.perf_counter() - t0 < 5


@pytest.mark.parametrize(
    "name",
    [
        "../escape.json",
        "a/../../escape.json",
        "/etc/passwd",
        "\\\\server\\share\\x.json",
        "C:\\x.json",
        "..\\x.json",
    ],
)
def test_zip_path_traversal_and_absolute_names_are_refused(tmp_path, name):
    raw = evalgen._zip_bytes(
        {"header.json": HEADER, "evil": b"{}"}, 8, names_override={"evil": name}
    )
    p = tmp_path / "trav.eval"
    p.write_bytes(raw)
    with pytest.raises(ReaderError, match="unsafe member path"):
        rm.read(p)
    assert not (tmp_path.parent / "escape.json").exists()


def test_zip_symlink_member_is_refused(tmp_path):
    p = tmp_path / "link.eval"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("header.json", HEADER)
        info = zipfile.ZipInfo("summaries.json", date_time=(2025, 1, 1, 0, 0, 0))
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(ReaderError, match="'summaries.json' is a symbolic link"):
        rm.read_items(p)


def test_zip_duplicate_member_is_refused(tmp_path):
    p = tmp_path / "dup.eval"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name while writing it
        with zipfile.ZipFile(p, "w") as zf:
            zf.writestr("header.json", HEADER)
            zf.writestr("header.json", HEADER.replace(b'"m"', b'"other"'))
    with pytest.raises(ReaderError, match="'header.json' occurs twice"):
        rm.read(p)


def test_zip_encrypted_member_and_unknown_method_are_refused(tmp_path):
    raw = bytearray(_zip(tmp_path / "a.eval", {"header.json": HEADER}).read_bytes())
    enc = bytearray(raw)
    for sig, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = enc.find(sig)
        enc[at + flag_at] |= 0x1
    (tmp_path / "enc.eval").write_bytes(bytes(enc))
    with pytest.raises(ReaderError, match="encrypted"):
        rm.read(tmp_path / "enc.eval")
    odd = bytearray(raw)
    for sig, method_at in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        at = odd.find(sig)
        odd[at + method_at : at + method_at + 2] = struct.pack("<H", 99)
    (tmp_path / "odd.eval").write_bytes(bytes(odd))
    with pytest.raises(ReaderError, match="unsupported ZIP compression method 99"):
        rm.read(tmp_path / "odd.eval")


def test_zip_from_a_future_zip_version_is_a_reader_error(tmp_path):
    # regression: zipfile raises NotImplementedError("zip file version 8.4") for such archives
    raw = bytearray(_zip(tmp_path / "a.eval", {"header.json": HEADER}).read_bytes())
    at = raw.find(b"PK\x01\x02")
    raw[at + 6] = 84  # "version needed to extract"
    (tmp_path / "v.eval").write_bytes(bytes(raw))
    with pytest.raises(ReaderError):
        rm.read(tmp_path / "v.eval")


def test_zip_corrupt_member_fails_its_crc(tmp_path):
    raw = bytearray(
        _zip(tmp_path / "a.eval", {"header.json": HEADER}, method=zipfile.ZIP_STORED).read_bytes()
    )
    at = raw.find(b'"m"')
    raw[at + 1 : at + 2] = b"n"
    (tmp_path / "crc.eval").write_bytes(bytes(raw))
    with pytest.raises(ReaderError, match="corrupt"):
        rm.read(tmp_path / "crc.eval")


def test_safezip_never_extracts_to_disk(tmp_path):
    p = _zip(tmp_path / "a.eval", {"header.json": HEADER})
    before = sorted(tmp_path.rglob("*"))
    with SafeZip(p) as z:
        assert z.read("header.json") == HEADER
    assert sorted(tmp_path.rglob("*")) == before


# --------------------------------------------------------------------------- formula injection
FORMULAS = [
    "=1+1",
    "+1+1",
    "-1+1",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
    '=HYPERLINK("http://x","y")',
    "=cmd|' /C calc'!A0",
]


def _hostile_frame() -> pd.DataFrame:
    n = len(FORMULAS)
    return pd.DataFrame(
        {
            "study_id": FORMULAS,
            "benchmark": pd.Categorical(FORMULAS),
            "=header": ["x"] * n,
            "score": np.linspace(-1, 1, n),  # negative numbers stay numbers
            "safe": ["a b", " =not-first", "plain", "1-2", "x=y", "", "ok", "a@b"],
        }
    )


def _cells_csv(path: Path, sep: str) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh, delimiter=sep))


def _assert_inert(cells: list[list[str]]) -> None:
    for row in cells:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")) or _is_number(cell), cell


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("ext,sep", [(".csv", ","), (".tsv", "\t")])
def test_write_neutralises_formulas_in_delimited_files(tmp_path, ext, sep):
    p = rm.write(_hostile_frame(), tmp_path / f"out{ext}")
    cells = _cells_csv(p, sep)
    _assert_inert(cells)
    assert cells[0][2] == "'=header"
    assert [r[0] for r in cells[1:]] == ["'" + f for f in FORMULAS]
    assert [r[4] for r in cells[1:]][:3] == ["a b", " =not-first", "plain"]
    assert float(cells[1][3]) == -1.0


def test_write_neutralises_formulas_in_excel(tmp_path):
    p = rm.write(_hostile_frame(), tmp_path / "out.xlsx")
    ws = openpyxl.load_workbook(p).active
    for row in ws.iter_rows():
        for cell in row:
            assert cell.data_type != "f", (cell.coordinate, cell.value)
            if isinstance(cell.value, str):
                assert not cell.value.startswith(("=", "+", "-", "@", "\t", "\r")), cell.value
    assert ws["A2"].value == "'=1+1"


def test_write_refuses_cells_excel_cannot_store(tmp_path):
    # regression: openpyxl's IllegalCharacterError escaped from rm.write
    frame = pd.DataFrame({"study_id": ["ok", "bell\x07"], "score": [1.0, 2.0]})
    with pytest.raises(DataError, match=r"row 2, column 'study_id': .*control character"):
        rm.write(frame, tmp_path / "x.xlsx")
    assert not (tmp_path / "x.xlsx").exists()


def test_cli_outputs_neutralise_formulas(tmp_path):
    from rlmeta.cli import app

    src = tmp_path / "in.csv"
    src.write_text(
        "study_id,comparison_id,benchmark,rl_score,baseline_score,n_items,score_scale\n"
        "=1+1,@c,+b,0.6,0.5,100,proportion\n-s,c2,\t=x,0.7,0.6,100,proportion\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    for cmd in (
        ["ingest", str(src), "-o", str(tmp_path / "ingest.csv")],
        ["effects", str(src), "-o", str(tmp_path / "effects.csv")],
        ["ingest", str(src), "-o", str(tmp_path / "ingest.xlsx")],
    ):
        result = runner.invoke(app, cmd)
        assert result.exit_code == 0, result.output
    for name in ("ingest.csv", "effects.csv"):
        cells = _cells_csv(tmp_path / name, ",")
        _assert_inert(cells)
        assert "'=1+1" in [c for r in cells for c in r]
    ws = openpyxl.load_workbook(tmp_path / "ingest.xlsx").active
    assert all(c.data_type != "f" for r in ws.iter_rows() for c in r)


# --------------------------------------------------------------------------- terminal output
def test_cli_prints_names_from_files_literally(tmp_path):
    """Names in input files are not Rich markup: no styles, no terminal hyperlinks, no crash."""
    from rlmeta.cli import app

    src = tmp_path / "m.csv"
    src.write_text(
        "study_id,benchmark,rl_score,baseline_score,n_items\n"
        's1,"[link=http://evil.example]click[/link]",0.5,0.4,100\n"[/bold]",b[red]x[/red],0.6,0.5,100\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["ingest", str(src), "-o", str(tmp_path / "o.csv")])
    assert result.exit_code == 0, result.output
    assert "[link=http://evil.example]click[/link]" in result.output
    assert "b[red]x[/red]" in result.output


def test_cli_error_message_with_markup_characters_is_printed_not_crashed(tmp_path):
    # regression: the error handler passed the message through Rich markup and crashed with
    # MarkupError on a value such as "[/y]"
    from rlmeta.cli import app

    src = tmp_path / "m.csv"
    src.write_text('benchmark,score\n"[/x]",1\nb,"[/y]"\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["ingest", str(src), "-o", str(tmp_path / "o.csv")])
    assert result.exit_code == 3, result.output
    assert "expected a number, got '[/y]'" in result.output


# --------------------------------------------------------------------------- HTML and SVG
PAYLOAD = '<script>alert("rlmeta-xss")</script><img src=x onerror="rlmeta_xss()">&amp;$\\frac{$ 50%'


class _Collector(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _assert_inert_html(text: str) -> _Collector:
    c = _Collector()
    c.feed(text)
    c.close()
    assert not [
        t for t, _ in c.tags if t in ("script", "iframe", "object", "embed", "base", "form")
    ]
    for tag, attrs in c.tags:
        for k, v in attrs.items():
            assert not k.startswith("on"), (tag, k, v)
            assert not (v or "").strip().lower().startswith("javascript:"), (tag, k, v)
        if tag == "img":
            assert "onerror" not in attrs
    assert "<script" not in text.lower()
    return c


def test_table_and_blocks_escape_every_cell():
    from rlmeta.report.document import Block, Report, Section, items, note, table, text
    from rlmeta.report.render import render_html

    frame = pd.DataFrame({PAYLOAD: [PAYLOAD, 1.5], "x": [None, PAYLOAD]})
    sec = Section("s1", PAYLOAD, note=PAYLOAD, status="failed")
    sec.add(
        text(PAYLOAD),
        note(PAYLOAD),
        items([PAYLOAD, PAYLOAD]),
        table(frame, caption=PAYLOAD),
        Block("code", PAYLOAD),
    )
    rep = Report(
        title=PAYLOAD,
        subtitle=PAYLOAD,
        sections=[sec],
        provenance={"rlmeta_version": PAYLOAD, "date": PAYLOAD, "seed": PAYLOAD},
    )
    out = render_html(rep)
    c = _assert_inert_html(out)
    assert sum(PAYLOAD in t for t in c.text) >= 10  # shown as text, not dropped


@pytest.fixture(scope="module")
def hostile_report():
    """A report on data whose every name carries HTML, SVG and mathtext metacharacters."""
    from rlmeta.droplog import extend_drop_log
    from rlmeta.report import ReportConfig, build_report
    from rlmeta.report.render import render_html

    data = rm.datasets.load_rl_llm_studies().head(24).copy()
    cols = (
        "study_id",
        "comparison_id",
        "benchmark",
        "metric",
        "notes",
        "rl_method",
        "rl_model",
        "baseline_model",
        "citation",
        "benchmark_family",
        "rl_family",
        "baseline_family",
    )
    plain = data.copy()
    for col in cols:
        data[col] = data[col].astype(str) + " " + PAYLOAD
    # a reader's drop-log reason quotes file content
    extend_drop_log(
        data,
        [
            {
                "step": "read",
                "source": PAYLOAD,
                "source_row": 3,
                "row_id": None,
                "study_id": PAYLOAD,
                "comparison_id": None,
                "benchmark": PAYLOAD,
                "metric": None,
                "reason": f"value {PAYLOAD!r} is not a number",
            }
        ],
    )
    cfg = ReportConfig().override(
        title="Report " + PAYLOAD,
        gosh_subsets=50,
        spec_max=20,
        permutations=10,
        formats=["html"],
        exclude={"notes": [PAYLOAD]},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = build_report(data=data, config=cfg)
        ref = build_report(data=plain, config=cfg.override(title="Report"))
    return rep, render_html(rep), ref


def test_report_html_has_no_live_markup_from_the_data(hostile_report):
    _, out, _ = hostile_report
    c = _assert_inert_html(out)
    shown = "\n".join(c.text)
    assert 'alert("rlmeta-xss")' in shown  # the names are shown, as text
    assert f"value {PAYLOAD!r} is not a number" in shown  # drop-log reason
    assert "Report " + PAYLOAD in shown  # config value (title)


def test_report_svg_figures_are_well_formed_and_inert(hostile_report):
    rep, out, _ = hostile_report
    figures = rep.figures
    assert figures, "the report has figures"
    for fig in figures:
        svg = str(fig.content)
        root = ET.fromstring(svg)  # an unescaped '<' or '&' in a label would not parse
        for el in root.iter():
            tag = el.tag.rsplit("}", 1)[-1]
            assert tag not in ("script", "foreignObject"), tag
            assert not [k for k in el.attrib if k.rsplit("}", 1)[-1].startswith("on")]
            href = el.attrib.get("{http://www.w3.org/1999/xlink}href", "") + el.attrib.get(
                "href", ""
            )
            assert not href.lower().startswith("javascript:")
    labels = " ".join("".join(ET.fromstring(str(f.content)).itertext()) for f in figures)
    assert "rlmeta-xss" in labels  # labels carry the names (as escaped SVG text)


def test_hostile_names_break_no_section(hostile_report):
    rep, _, ref = hostile_report
    status = {s.id: s.status for s in rep.sections}
    assert status == {s.id: s.status for s in ref.sections}, [
        (s.title, s.note) for s in rep.sections if s.status == "failed"
    ]


# --------------------------------------------------------------------------- code in formulas
CODE = [
    "__import__('os').system('touch PWNED')",
    "x.__class__.__bases__",
    "x.__globals__",
    "(lambda: 1)()",
    "`__import__('os').system('touch PWNED')`",
    "I(__import__('os'))",
    "C(x, ref=__import__('os').getcwd())",
    "exec('1')",
    "eval('1')",
    "open('/etc/passwd')",
    "x[0]",
    "x; import os",
    "globals()",
    "I(x ** 9 ** 9 ** 9)",
    "I(x + 9 ** 9 ** 9)",
    "I((x ** 10) ** 10)",
    "x * " * 20 + "x",
    "x + " * 5000 + "x",
]


@pytest.mark.parametrize("formula", CODE, ids=range(len(CODE)))
def test_formulas_cannot_run_code_or_explode(tmp_path, monkeypatch, formula):
    monkeypatch.chdir(tmp_path)
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "yi": [0.1, 0.2, 0.3, 0.1], "vi": [0.01] * 4})
    t0 = time.perf_counter()
    with pytest.raises(ModelError, match="formula"):
        check_formula(formula, df.columns)
    with pytest.raises(ModelError):
        Design.build(formula, df)
    with pytest.raises(ModelError):
        rm.meta_analysis(df, mods="~ " + formula)
    assert time.perf_counter() - t0 < 5
    assert not (tmp_path / "PWNED").exists()


def test_allowed_formulas_still_work():
    df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6], "z": [2.0, 1, 3, 5, 4, 6], "g": list("ababab")})
    for f in (
        "~ x + z",
        "~ x * z",
        "~ I(x ** 2) + x",
        "~ (x + z)**2",
        "~ C(g, ref='b') + log(x)",
        "~ poly(x, 2)",
    ):
        assert Design.build(f, df).X.shape[0] == 6


def test_report_config_is_data_only(tmp_path, monkeypatch):
    """TOML is parsed by tomllib (no tags, no code); values are checked; nothing runs."""
    from rlmeta.report import build_report, load_config

    monkeypatch.chdir(tmp_path)
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text(
        "[model]\nmoderators = [\"__import__('os').system('touch PWNED')\"]\n"
        'interaction = ["__class__", "__import__(\'os\')"]\nrandom = "study_id/__import__(\'os\')"\n'
        '[report]\ntitle = "!!python/object/apply:os.system [\'touch PWNED\']"\nformats = ["html"]\n'
        "[sensitivity]\ngosh_subsets = 10\nspec_max = 5\npermutations = 5\n",
        encoding="utf-8",
    )
    cfg = load_config(cfg_file)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = build_report(data=rm.datasets.load_rl_llm_studies().head(12), config=cfg)
    assert not (tmp_path / "PWNED").exists()
    assert rep.title.startswith("!!python/object")  # a plain string


@pytest.mark.parametrize(
    "text,match",
    [
        ("[report]\nseed = '1; import os'\n", "'seed' must be an integer"),
        ("[report]\nbogus = 1\n", "unknown key 'bogus'"),
        ("[evil]\nx = 1\n", r"unknown section \[evil\]"),
        ("x = [" * 2000 + "]" * 2000, "not valid TOML|nested too deeply"),
        ('[report]\ntitle = "\\u0000"\nseed = 1e400\n', "must be an integer"),
        ("\xff\xfe", "not UTF-8|not valid TOML"),
    ],
)
def test_bad_config_files_are_config_errors(tmp_path, text, match):
    from rlmeta.report import load_config

    p = tmp_path / "c.toml"
    p.write_bytes(text.encode("utf-8", "surrogateescape") if "\xff" not in text else b"\xff\xfe")
    with pytest.raises(ConfigError, match=match):
        load_config(p)


def test_config_path_that_is_a_folder_is_a_config_error(tmp_path):
    # regression: IsADirectoryError escaped from load_config
    from rlmeta.report import load_config

    with pytest.raises(ConfigError, match="cannot read the configuration file"):
        load_config(tmp_path)


_UNSAFE_MODULES = {"yaml", "pickle", "dill", "cloudpickle", "marshal", "shelve"}


def _unsafe_uses(source: str) -> list[str]:
    """Imports of deserialisers that can run code, calls of eval/exec/read_pickle (syntax tree,
    so a docstring that shows a rejected formula such as ``exec(x)`` does not count)."""
    import ast

    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in _UNSAFE_MODULES]
        elif (
            isinstance(node, ast.ImportFrom)
            and (node.module or "").split(".")[0] in _UNSAFE_MODULES
        ):
            found.append(node.module)
        elif isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in ("eval", "exec"):
                found.append(f.id)
            elif isinstance(f, ast.Attribute) and (
                f.attr == "read_pickle"
                or (isinstance(f.value, ast.Name) and f.value.id in _UNSAFE_MODULES)
            ):
                found.append(f.attr)
    return found


def test_rlmeta_reads_no_yaml_or_pickle():
    """Only TOML (tomllib) is read as configuration; no YAML or pickle loader, no eval/exec."""
    assert _unsafe_uses(
        "import yaml\nyaml.safe_load(x)\neval('1')\npd.read_pickle(p)\n'exec(x)'\n"
    ) == ["yaml", "safe_load", "eval", "read_pickle"]
    for path in Path(rm.__file__).parent.rglob("*.py"):
        assert not _unsafe_uses(path.read_text(encoding="utf-8")), path


def test_wandb_dict_cells_are_parsed_as_literals_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = tmp_path / "runs.csv"
    rows = [
        ["name", "config", "summary"],
        ["r1", "__import__('os').system('touch PWNED')", "{'acc': 0.5}"],
        ["r2", "{'lr': (lambda: 1)()}", "{'acc': 0.6}"],
    ]
    with open(p, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    with pytest.raises(
        ReaderError, match=r"row 1, column 'config': expected a dict of config values"
    ):
        read_sweep(p)
    rows.pop(1)
    with open(p, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    with pytest.raises(ReaderError, match="expected a dict of config values"):
        read_sweep(p)
    assert not (tmp_path / "PWNED").exists()


def test_wandb_deep_or_huge_literal_cells_fail_cleanly(tmp_path):
    p = tmp_path / "runs.csv"
    for cell in ("[" * 100_000 + "]" * 100_000, "{'a': " + "9" * 10_000 + "}", "x" * 1_500_000):
        with open(p, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows([["name", "config", "summary"], ["r", cell, "{}"]])
        t0 = time.perf_counter()
        with pytest.raises(ReaderError):
            read_sweep(p)
        assert time.perf_counter() - t0 < 10


def test_csv_cell_with_a_carriage_return_cannot_start_a_row(tmp_path):
    # regression: a bare CR inside an unquoted cell started a new spreadsheet row whose first
    # cell was "=1+1"; rows now end in CRLF, so such a cell is quoted and the table keeps its shape
    p = rm.write(_hostile_frame(), tmp_path / "out.csv")
    back = pd.read_csv(p)
    assert back.shape == _hostile_frame().shape
    assert io.StringIO(p.read_text()).read().count("'=") >= 4
