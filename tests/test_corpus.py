"""Every workflow of the shared corpus that yadage can run loads and validates; the ones that
cannot get one clear error each. The exceptions are listed in docs/language.md with reasons."""
from __future__ import annotations

from pathlib import Path

import pytest

from yadage2x.errors import SpecError
from yadage2x.load import load_workflow
from yadage2x.load.source import read_file

TESTSPECS = "yadage__yadage/tests/testspecs"

# (workflow, toplevel or None, number of stages counted through every nesting level)
VALID = [
    ("reanahub__reana-demo-helloworld/workflow/yadage/workflow.yaml", None, 1),
    ("reanahub__reana-demo-helloworld/workflow/yadage/workflow-htcondorcern.yaml", None, 1),
    ("reanahub__reana-demo-helloworld/workflow/yadage/workflow-slurmcern.yaml", None, 1),
    ("reanahub__reana-demo-root6-roofit/workflow/yadage/workflow.yaml", None, 2),
    ("reanahub__reana-demo-root6-roofit/workflow/yadage/workflow-htcondorcern.yaml", None, 2),
    ("reanahub__reana-demo-root6-roofit/workflow/yadage/workflow-slurmcern.yaml", None, 2),
    ("workflow/databkgmc.yml", "reanahub__reana-demo-bsm-search", 36),
    ("reanahub__reana-demo-bsm-search/workflow/wflow_all_mc.yml", None, 14),
    ("reanahub__reana-demo-bsm-search/workflow/workflow_data.yml", None, 9),
    ("reanahub__reana-demo-bsm-search/workflow/workflow_mc.yml", None, 12),
    ("reanahub__reana-demo-bsm-search/workflow/workflow_select_shape.yml", None, 3),
    ("reanahub__reana-demo-bsm-search/workflow/workflow_sig.yml", None, 6),
    ("workflow/workflow.yml", "reanahub__reana-demo-atlas-recast", 2),
    ("workflow/workflow-htcondorcern.yml", "reanahub__reana-demo-atlas-recast", 2),
    ("madminer-tool__madminer-workflow-ph/workflow/yadage/workflow.yml", None, 5),
    ("madminer-tool__madminer-workflow-ml/workflow/yadage/workflow.yml", None, 4),
    ("recast-hep__recast-atlas/src/recastatlas/data/templates/helloworld/specs/workflow.yml", None, 1),
    ("yadage__yadage-schemas/tests/testspecs/local-helloworld/workflow.yml", None, 1),
    ("yadage__yadage-schemas/tests/testspecs/local-helloworld-jsonref/workflow.yml", None, 1),
    ("yadage__yadage-schemas/tests/testspecs/mapreduce/workflow.yml", None, 2),
    ("yadage__yadage/examples/testflows/test1/flow.yml", None, 3),
    # fails in yadage only when its sub-workflow case is chosen: a warning, not an error
    (f"{TESTSPECS}/casesflow/single/workflow.yml", None, 2),
] + [
    (f"{TESTSPECS}/{name}", None, stages)
    for name, stages in [
        ("analysis_scaffold/workflow/workflow.yml", 8), ("bsm_grid_scaffold/workflow/workflow.yml", 12),
        ("cartesian_mapreduce/workflow.yml", 2), ("dynamic_glob/workflow.yml", 3),
        ("dynamic_glob/workflow_frominit.yml", 2), ("dynamic_mapreduce_fromfile/workflow.yml", 3),
        ("jqnodestruct/workflow.yml", 3), ("jqwflow/workflow.yml", 4), ("local-helloworld/workflow.yml", 1),
        ("mapreduce/workflow.yml", 2), ("mapreduce_batched/workflow.yml", 2),
        ("mapreduce_batched_multilevel/workflow.yml", 3), ("mapreduce_parmount/workflow.yml", 3),
        ("nested/workflow.yml", 5), ("nestedmapreduce/workflow.yml", 3), ("nestedmapreduce_regval/workflow.yml", 3),
        ("recast_scaffold/workflow/workflow.yml", 6), ("registering_values/workflow.yml", 2),
        ("stackednestings/workflow.yml", 4),
    ]
]

STEPS = [
    "yadage__packtivity/tests/testspecs/" + name
    for name in [
        "dockerfail.yml", "dockerfail_script.yml", "dockertouchfile.yml", "dockertouchfile_script.yml",
        "environment_tests/resources_docker.yml", "environment_tests/resources_parmounts.yml",
        "environment_tests/touchfile_docker_inworkdir.yml", "localtouchfail.yml", "localtouchfile.yml", "noop-test.yml",
    ]
] + ["crcresearch__packtivity-tests/tests/delphes/delphes.yml"]

# specs yadage cannot run (or that are not current yadage): one precise error each
BROKEN = [
    (f"{TESTSPECS}/casesflow/multi/workflow.yml", "workflow.yml:5:5:", "exactly one of 'step', 'workflow' or 'cases'"),
    (f"{TESTSPECS}/dynamic_glob/with_subworkflow.yml", "with_subworkflow.yml:16:21:", "KeyError 'workdir'"),
    ("yadage__yadage-schemas/tests/testspecs/invalid/workflow.yml", "workflow.yml:1:1:", "missing required key 'stages'"),
    ("madminer-tool__madminer-workflow/reana/workflow.yml", "workflow.yml:10:24:", "no such file"),
    ("yadage__packtivity/tests/testspecs/noop-test-invalid.yml", "noop-test-invalid.yml:1:1:", "missing required key 'environment'"),
    ("crcresearch__packtivity-tests/tests/tarball/tarball.yml", "tarball.yml:9:21:", "'tarball' is not one of"),
    ("yadage__yadage/tests/scheduler_tests/scheduler-examples/map-from-dep-workflow.yml", "map-from-dep-workflow.yml:1:1:", "unknown key 'context'"),
    ("yadage__yadage/tests/scheduler_tests/scheduler-examples/zip-from-dep-workflow.yml", "zip-from-dep-workflow.yml:1:1:", "unknown key 'context'"),
]


def total_stages(workflow) -> int:
    return sum(1 + sum(total_stages(w) for w in s.sub_workflows()) for s in workflow.stages)


@pytest.mark.parametrize("path, toplevel, stages", VALID, ids=[v[0] if not v[1] else f"{v[1]}:{v[0]}" for v in VALID])
def test_corpus_workflow_loads(corpus: Path, path, toplevel, stages):
    top = corpus / toplevel if toplevel else None
    loaded = load_workflow(path if top else corpus / path, top)
    assert total_stages(loaded.workflow) == stages


@pytest.mark.parametrize("path", STEPS)
def test_corpus_step_loads(corpus: Path, path):
    assert load_workflow(corpus / path).step is not None


@pytest.mark.parametrize("path, where, message", BROKEN, ids=[b[0] for b in BROKEN])
def test_corpus_broken_spec_gets_a_clear_error(corpus: Path, path, where, message):
    with pytest.raises(SpecError) as info:
        load_workflow(corpus / path)
    first = str(info.value.problems[0])
    assert where in first and message in first
    assert "\n" not in first


def test_a_case_that_may_crash_yadage_is_a_warning(corpus: Path):
    loaded = load_workflow(corpus / TESTSPECS / "casesflow/single/workflow.yml")
    assert [str(w) for w in loaded.warnings] == [
        f"{corpus / TESTSPECS / 'casesflow/single/workflow.yml'}:8:19: stage 'hello_world' has a case that schedules "
        "a sub-workflow, whose init has no {workdir}: yadage fails with KeyError 'workdir' when that case is chosen"
    ]


def test_init_data_of_the_testspecs_match_their_workflows(corpus: Path):
    """Where a testspec ships its init data, every init reference is given by it."""
    checked = 0
    for inputs in sorted((corpus / TESTSPECS).glob("*/input.yml")):
        workflow = inputs.parent / "workflow.yml"
        initdata = read_file(inputs)
        load_workflow(workflow, initdata=dict(initdata))
        checked += 1
    assert checked >= 8


def test_bsm_search_graph_shows_all_stages_with_nesting(corpus: Path, cli):
    result = cli("graph", "workflow/databkgmc.yml", "-t", corpus / "reanahub__reana-demo-bsm-search", "--format", "mermaid")
    assert result.code == 0
    lines = result.out.splitlines()
    stage_nodes = [l for l in lines if '["' in l and "subgraph" not in l and '(["init"])' not in l]
    subgraphs = [l for l in lines if l.strip().startswith("subgraph")]
    # 36 stages: 31 run steps, 5 schedule sub-workflows (drawn as nested clusters)
    assert len(stage_nodes) + len(subgraphs) == 36 and len(subgraphs) == 5
    # nesting: run_mc inside all_bkg_mc, select_signal_shapevars inside run_mc
    assert any(l.startswith("      subgraph n_all_bkg_mc__run_mc__select_signal_shapevars ") for l in lines)
    assert "dynamic" in result.out  # makews publishes with a glob
