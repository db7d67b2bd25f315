# sfcrime: unit tests of python/radio_codes.py.
import json
from pathlib import Path

import pytest

from radio_codes import load_radio_codes

PROJECT_FILE = Path(__file__).resolve().parents[2] / "data/radio_code.json"


def radio_code_file(tmp_path, codes):
    path = tmp_path / "radio_code.json"
    path.write_text(json.dumps(codes), encoding="utf-8")
    return path


def test_the_projects_file_gives_each_code_its_description():
    codes = load_radio_codes(PROJECT_FILE)
    entries = json.loads(PROJECT_FILE.read_text(encoding="utf-8"))
    assert len(codes) == len({entry["disposition_code"] for entry in entries}) > 0
    assert all(codes[entry["disposition_code"]] == entry["description"] for entry in entries)


def test_a_code_given_twice_alike_is_one_code(tmp_path):
    path = radio_code_file(tmp_path, [{"disposition_code": "ADV", "description": "Advised"}] * 2)
    assert load_radio_codes(path) == {"ADV": "Advised"}


def test_a_code_with_two_descriptions_is_an_error(tmp_path):
    path = radio_code_file(tmp_path, [{"disposition_code": "ADV", "description": "Advised"},
                                      {"disposition_code": "ADV", "description": "Admonished"}])
    with pytest.raises(ValueError, match=f"^{path}: disposition code 'ADV' has two descriptions$"):
        load_radio_codes(path)


def test_an_empty_file_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no radio codes$"):
        load_radio_codes(radio_code_file(tmp_path, []))
