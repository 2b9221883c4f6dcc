"""The whole journey: a deposit made by `recast-archive pack` (with its image) is pushed to
`recast-archive serve`, published, pulled back into a new folder, verified and re-run: the re-run
publishes what yadage published for the original example. Needs Docker and the loopback registry
(tests/test_archive.py's fixtures), as pack and run do."""
from __future__ import annotations

from portal_support import client_env, ids, portal, run_archive, tree  # noqa: F401
from test_archive import deposit, registry, test_image  # noqa: F401  (fixtures)

from yadage2x import capture
from yadage2x.compare import compare


def test_push_pull_verify_run_gives_the_original_results(portal, client_env, deposit, tmp_path):
    packed, example = deposit
    code, out, err = run_archive("push", packed, "--publish")
    assert code == 0, err
    recid = ids(out)["record"]

    pulled = tmp_path / "pulled"
    code, _, err = run_archive("pull", recid, "-o", pulled)
    assert code == 0, err
    assert tree(pulled) == tree(packed)  # every file, the image layout's blobs among them
    code, _, err = run_archive("verify", pulled)
    assert code == 0, err

    code, out, err = run_archive("run", pulled, "--engine", "yadage", "-w", tmp_path / "rerun")
    assert code == 0, err
    rerun = capture.read(tmp_path / "rerun" / "capture.json")
    assert rerun["status"] == "success"
    assert compare(capture.read(example / "capture.json"), rerun) == []
