"""Property-based tests of the user-facing parsers: whatever they are given, they answer with the value or
with edgepose's one error type (the argparse type with argparse's) — never a raw Python exception."""
from __future__ import annotations

import argparse
import copy
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgepose.cli import _box
from edgepose.runtimes.card import CARD_NAME, ModelCard, load_card
from edgepose.runtimes.errors import ConfigError
from edgepose.runtimes.runner import parse_boxes

from .test_card import pose_card

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)
VALID = pose_card().to_dict()


def _paths(data, prefix=()):
    """Every (key path) inside a nested dict/list, the root excluded."""
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        yield (*prefix, key)
        yield from _paths(value, (*prefix, key))


PATHS = list(_paths(VALID))


@st.composite
def mutated_cards(draw) -> dict:
    """A valid card with 1–3 values replaced by arbitrary JSON, or deleted."""
    data = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        parent = data
        try:
            for key in path[:-1]:
                parent = parent[key]
            if draw(st.booleans()) and isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent[path[-1]] = draw(JSON)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation replaced a parent
    return data


def _read(data) -> ModelCard | None:
    try:
        return ModelCard.from_dict(data)
    except ConfigError:
        return None


@SETTINGS
@given(JSON)
def test_any_json_value_is_a_card_or_a_config_error(value):
    _read(value)


@SETTINGS
@given(mutated_cards())
def test_mutated_cards_are_read_or_refused_with_config_error(data):
    card = _read(data)
    if card is not None:   # what the reader accepts, the runtime can use
        assert all(isinstance(name, str) and "/" not in name for name in card.files.values())
        assert all(0 <= i < len(card.keypoints) for pair in card.flip_pairs for i in pair)
        assert card.task != "pose" or 0 < card.bbox_padding < math.inf


@SETTINGS
@given(st.one_of(mutated_cards(), JSON), st.sampled_from(["json", "text", "bytes"]))
def test_load_card_of_any_file_content_raises_only_config_error(tmp_path, data, kind):
    path = tmp_path / CARD_NAME
    if kind == "json":
        path.write_text(json.dumps(data))
    elif kind == "text":
        path.write_text(json.dumps(data)[:-3] + "\u00e9")
    else:
        path.write_bytes(b"\xff\xfe" + json.dumps(data).encode())
    (tmp_path / "m.onnx").write_bytes(b"")
    try:
        load_card(tmp_path)
    except ConfigError:
        pass


@SETTINGS
@given(st.text(max_size=60) | st.lists(st.sampled_from(["1", "2.5", "-3", "nan", "inf", "1e400", ",", ";", " ",
                                                        "x", ""]), max_size=20).map("".join))
def test_parse_boxes_returns_boxes_or_raises_config_error(text):
    try:
        boxes = parse_boxes(text)
    except ConfigError:
        return
    assert boxes.dtype == np.float32 and boxes.ndim == 2 and boxes.shape[1] == 4 and len(boxes) >= 1
    assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()


@SETTINGS
@given(st.text(max_size=40) | st.lists(st.sampled_from(["1", "2.5", "-3", "nan", ",", " ", "x", ""]),
                                       max_size=12).map("".join))
def test_verify_box_argument_type_returns_four_floats_or_argparse_error(text):
    try:
        box = _box(text)
    except argparse.ArgumentTypeError:
        return
    assert len(box) == 4 and all(isinstance(v, float) for v in box)


@pytest.mark.parametrize("text", ["1,2,3,4", " 1, 2 ,3,4 "])
def test_verify_box_accepts_four_numbers(text):
    assert _box(text) == (1.0, 2.0, 3.0, 4.0)
