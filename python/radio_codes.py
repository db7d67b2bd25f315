#
# sfcrime: the radio-code file (data/radio_code.json) that gives a call's disposition
# code its description, read and checked once on the driver.
#
import json


def load_radio_codes(path):
    """{disposition code: description} from the radio-code file."""
    with open(path, encoding="utf-8") as f:
        codes = json.load(f)
    descriptions = {}
    for c in codes:
        code = c["disposition_code"]
        if descriptions.get(code, c["description"]) != c["description"]:
            raise ValueError(f"{path}: disposition code {code!r} has two descriptions")
        descriptions[code] = c["description"]
    if not descriptions:
        raise ValueError(f"{path}: no radio codes")
    return descriptions
