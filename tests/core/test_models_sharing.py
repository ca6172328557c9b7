"""Sharing models: export to skops + card, import with an allow-list; refusals before loading."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from test_models import copy_shipped, enron_frame, sms_frame, tweet_frame

from guiapp.core import models, session
from guiapp.core.collection import Collection
from guiapp.core.errors import ModelError
from guiapp.core.models import sharing
from guiapp.core.models.registry import file_sha256
from guiapp.core.project import Project


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("shared")
    out = {}
    for task in ("spam", "sentiment"):
        skops_path, card_path = sharing.export_model("shipped", folder / f"my-{task}", task=task)
        assert skops_path.name == f"my-{task}.skops" and card_path.name == f"my-{task}.card.json"
        out[task] = skops_path
    return out


def copy_export(path: Path, folder: Path) -> Path:
    card = path.with_name(path.name.removesuffix(".skops") + ".card.json")
    shutil.copy(path, folder / path.name)
    shutil.copy(card, folder / card.name)
    return folder / path.name


def rewrite(path: Path, pipeline) -> None:
    """Replace the exported model by ``pipeline`` and make its card's hash agree (what a
    forger would do)."""
    sio.dump(pipeline, path)
    card_path = path.with_name(path.name.removesuffix(".skops") + ".card.json")
    card = json.loads(card_path.read_text())
    card["export"]["sha256"] = file_sha256(path)
    card_path.write_text(json.dumps(card))


def test_export_then_import_gives_the_same_model(exported, tmp_path):
    frame = pd.concat(
        [sms_frame().iloc[:50], enron_frame().iloc[:10], tweet_frame().iloc[:50]],
        ignore_index=True,
    )
    collection = Collection(frame)
    project = Project.create(tmp_path / "p.triage", collection)
    for task, path in exported.items():
        card = json.loads(path.with_name(f"my-{task}.card.json").read_text())
        assert card["task"] == task and card["export"]["sha256"] == file_sha256(path)
        assert card["evaluation"]  # the metrics travel with the model
        stored = session.import_model(project, path)
        assert not stored.active and project.active_models()[task] == "shipped"
        assert stored.origin == {"kind": "imported", "file": str(path.resolve())}
        imported = project.load_model(task, stored.version)  # stored the app's own way
        assert imported.card["imported"]["sha256"] == card["export"]["sha256"]
        assert "Imported from" in imported.card["description"]
        shipped = models.load_shipped(task)
        assert np.array_equal(
            models.predict_proba(imported, frame), models.predict_proba(shipped, frame)
        )
    # a project's version is exported by its id, and can be made the one in use on import
    path, _ = sharing.export_model(
        stored.version, exported["spam"].parent / "again", task="sentiment", source=project.path
    )
    again = session.import_model(project, path, activate=True)
    assert project.active_models()["sentiment"] == again.version != stored.version
    project.close()


def test_crafted_attributes_are_refused_with_a_model_error(exported, tmp_path):
    for value in ("abc", -1, 10**15):
        path = copy_export(exported["spam"], tmp_path)
        pipeline = models.load_shipped("spam").pipeline
        hasher = pipeline["hash"]
        saved = hasher.n_bits
        hasher.n_bits = value
        try:
            rewrite(path, pipeline)
        finally:
            hasher.n_bits = saved
        with pytest.raises(ModelError, match="n_bits"):
            sharing.import_model(path)
    path = copy_export(exported["spam"], tmp_path)
    pipeline = models.load_shipped("spam").pipeline
    hasher = pipeline["hash"]
    saved = hasher.lexicon
    hasher.lexicon = {"good": "very"}
    try:
        rewrite(path, pipeline)
    finally:
        hasher.lexicon = saved
    with pytest.raises(ModelError):
        sharing.import_model(path)


def test_a_tampered_file_is_refused_before_loading(exported, tmp_path, monkeypatch):
    path = copy_export(exported["spam"], tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    monkeypatch.setattr(sio, "load", lambda *a, **k: pytest.fail("loaded a tampered file"))
    with pytest.raises(ModelError, match="SHA-256"):
        sharing.import_model(path)


class Rogue:
    """A type outside the allow-list: building it would run this code."""

    def __setstate__(self, state):  # pragma: no cover - must never run
        raise AssertionError("a foreign type was built")


def test_types_outside_the_allow_list_are_refused_by_name(exported, tmp_path):
    path = copy_export(exported["spam"], tmp_path)
    pipeline = models.load_shipped("spam").pipeline
    pipeline.steps[1][1].rogue = Rogue()  # rides along inside an allowed object
    try:
        rewrite(path, pipeline)
    finally:
        del pipeline.steps[1][1].rogue
    with pytest.raises(ModelError, match=r"holds types .*Rogue.*not loaded"):
        sharing.import_model(path)


def test_a_card_that_does_not_describe_the_file_is_refused(exported, tmp_path):
    path = copy_export(exported["spam"], tmp_path)
    pipeline = models.load_shipped("spam").pipeline
    clf = pipeline["clf"]
    saved = clf.intercept_.copy()
    clf.intercept_ = saved + 2.0
    try:
        rewrite(path, pipeline)
    finally:
        clf.intercept_ = saved
    with pytest.raises(ModelError, match="probe texts"):
        sharing.import_model(path)
    # the sentiment model under a spam card: not a spam pipeline
    path = copy_export(exported["spam"], tmp_path)
    rewrite(path, models.load_shipped("sentiment").pipeline)
    with pytest.raises(ModelError, match="does not fit a spam model"):
        sharing.import_model(path)


def test_files_without_an_export_card_are_refused(exported, tmp_path):
    path = copy_export(exported["spam"], tmp_path)
    (tmp_path / "my-spam.card.json").unlink()
    with pytest.raises(ModelError, match="card of the shared model is missing"):
        sharing.import_model(path)
    # a model card of the app, but not an export card (e.g. a pickle's card renamed)
    shipped = copy_shipped("spam", tmp_path)
    shutil.copy(tmp_path / "spam.card.json", tmp_path / "my-spam.card.json")
    with pytest.raises(ModelError, match="not the card of a model exported by Triage"):
        sharing.import_model(path)
    assert shipped.is_file()
