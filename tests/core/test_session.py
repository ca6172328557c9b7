"""guiapp.core.session: the user-level operations the window and the CLI share."""

from pathlib import Path

import numpy as np
import pytest

from guiapp.core import session
from guiapp.core.errors import Cancelled
from guiapp.core.paths import demo_collection

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SMS = FIXTURES / "qt" / "sms.csv"


def test_project_paths_are_named_after_the_input_and_never_reused(tmp_path):
    first = session.project_path_for([SMS], tmp_path)
    assert first.name == "sms.triage"
    first.write_bytes(b"")
    assert session.project_path_for([SMS], tmp_path).name == "sms (2).triage"
    assert session.project_name_for([SMS, SMS]) == "sms + 1 more"
    assert session.project_path_for(["a/b:c?.csv"], tmp_path).name == "b_c_.triage"


def test_import_files_builds_a_project_with_themes(tmp_path):
    opened = session.import_files([SMS], project_path=tmp_path / "p.triage")
    try:
        c = opened.project.collection
        assert opened.created and len(c) == 300 and opened.problems == []
        assert c.clustering is not None and (c.cluster >= -1).all()
        assert opened.project.load_json("sources") == [str(SMS.resolve())]
    finally:
        opened.project.close()
    again = session.open_project(tmp_path / "p.triage")
    try:
        assert again.project.collection.clustering.k == c.clustering.k
        assert (again.project.collection.cluster == c.cluster).all()
    finally:
        again.project.close()


def test_import_can_be_cancelled_and_leaves_no_project(tmp_path):
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Cancelled):
        session.import_files([SMS], project_path=tmp_path / "p.triage", stop_requested=stop)
    assert not (tmp_path / "p.triage").exists()


def test_snapshot_owns_its_arrays():
    opened = session.import_files([demo_collection()], project_path=None)
    try:
        c = opened.project.collection
        snap = session.snapshot(c)
        c.user["spam"][:] = 1
        c.spam_prob[:] = 0.25
        assert (snap.user["spam"] != 1).any()
        assert not np.all(snap.spam_prob == 0.25)
        assert snap.messages is c.messages or snap.messages.equals(c.messages)
    finally:
        opened.project.close()


def test_cluster_and_apply(tmp_path):
    opened = session.import_files([SMS], project_path=tmp_path / "p.triage")
    project = opened.project
    try:
        clustering = session.cluster(session.snapshot(project.collection), k=3)
        session.apply_clustering(project, clustering)
        assert project.collection.clustering.k == 3
        assert session.restore_clustering(project).k == 3
    finally:
        project.close()
