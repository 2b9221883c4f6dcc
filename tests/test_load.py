"""The loader: YAML/JSON with positions, $ref rules, normalisation and defaults, the IR."""
from __future__ import annotations

import dataclasses
import json

import pytest

from yadage2x.errors import SpecError
from yadage2x.ir import CommandProcess, DockerEnvironment, FromParJqPublisher, InterpolatedPublisher, Literal, Ref, ScriptProcess
from yadage2x.load import load_workflow
from yadage2x.selectors import SelectorError, parse

STEP = """
    process: {process_type: string-interpolated-cmd, cmd: 'echo {msg} > {out}'}
    environment: {environment_type: docker-encapsulated, image: busybox}
    publisher: {publisher_type: frompar-pub, outputmap: {out: out}}
"""


def one_stage(write, params="msg: {step: init, output: msg}\nout: '{workdir}/o.txt'", step_ref="{$ref: 'steps.yml#/echo'}", name="workflow.yml"):
    """A one-stage workflow; ``params`` is YAML lines for its parameters mapping."""
    write("steps.yml", "echo:\n" + "\n".join("  " + line.strip() for line in STEP.strip().splitlines()) + "\n")
    indented = "\n".join("        " + line for line in params.splitlines())
    text = (
        "stages:\n"
        "  - name: hello\n"
        "    dependencies: [init]\n"
        "    scheduler:\n"
        "      scheduler_type: singlestep-stage\n"
        "      parameters:\n"
        f"{indented}\n"
        f"      step: {step_ref}\n"
    )
    return write(name, text)


def errors_of(*args, **kwargs) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_workflow(*args, **kwargs)
    return [str(p) for p in info.value.problems]


def test_ref_forms_are_equivalent(write):
    for ref in ("steps.yml#/echo", "steps.yml#echo", "steps.yml#//echo"):
        wf = load_workflow(one_stage(write, step_ref="{$ref: '%s'}" % ref)).workflow
        assert isinstance(wf.stages[0].body.process, CommandProcess)


def test_defaults_are_filled_in(write):
    stage = load_workflow(one_stage(write)).workflow.stages[0]
    env = stage.body.environment
    assert isinstance(env, DockerEnvironment)
    assert (env.imagetag, env.resources, env.envscript, dict(env.env), env.workdir, env.par_mounts) == ("latest", (), "", {}, None, ())
    assert stage.dependencies.kind == "jsonpath_ready" and stage.dependencies.expressions == ("init",)
    assert stage.workflow_opts.discover is False and stage.workflow_opts.relative is True


def test_publisher_and_process_defaults(write):
    write("steps.yml", """
        s:
          process: {process_type: interpolated-script-cmd, script: 'echo hi'}
          environment: {environment_type: docker-encapsulated, image: busybox}
          publisher: {publisher_type: fromparjq-pub}
        t:
          process: {process_type: string-interpolated-cmd, cmd: 'true'}
          environment: {environment_type: localproc-env}
          publisher: {publisher_type: interpolated-pub, publish: {a: '{workdir}/a'}}
        """)
    s = load_workflow(write("s.yml", "stages: []")).workflow  # empty workflows are fine
    assert s.stages == ()
    step = load_workflow(write("step.yml", "{$ref: 'steps.yml#/s'}")).step
    assert isinstance(step.process, ScriptProcess) and step.process.interpreter == "sh"
    assert step.publisher == FromParJqPublisher(script=".", try_exact=True, glob=False, relative_paths=False, pos=step.publisher.pos)
    other = load_workflow(write("step2.yml", "{$ref: 'steps.yml#/t'}")).step
    assert isinstance(other.publisher, InterpolatedPublisher) and other.publisher.glob is False and other.publisher.relative_paths is False


def test_parameters_normalised_like_yadage(write):
    params = "msg: {step: init, output: msg}\nout: '{workdir}/o.txt'\nnested: {a: {stages: init, output: x}}\nlst: [1, 2]"
    stage = load_workflow(one_stage(write, params=params)).workflow.stages[0]
    by_key = {p.key: p.value for p in stage.parameters}
    assert [p.key for p in stage.parameters] == ["msg", "out", "nested", "lst"]  # dict order kept
    assert isinstance(by_key["msg"], Ref) and by_key["msg"].single and by_key["msg"].output == "msg"
    # only top-level values are references: yadage passes nested ones through literally
    assert isinstance(by_key["nested"], Literal) and by_key["nested"].value == {"a": {"stages": "init", "output": "x"}}
    assert by_key["lst"].value == (1, 2)


def test_toplevel_references_resolve_from_the_repository_root(write, tmp_path):
    write("repo/workflow/steps.yml", "echo:\n" + "\n".join("  " + l.strip() for l in STEP.strip().splitlines()) + "\n")
    wf = one_stage(write, step_ref="{$ref: 'workflow/steps.yml#/echo'}", name="repo/workflow/workflow.yml")
    assert load_workflow("workflow/workflow.yml", tmp_path / "repo").workflow.stages[0].name == "hello"
    problems = errors_of(wf)  # without -t the reference points nowhere, and the error says what to do
    assert len(problems) == 1 and "workflow.yml:9:" in problems[0] and "pass -t" in problems[0]


def test_refs_inside_referenced_files_resolve_from_that_file(write):
    write("lib/steps.yml", "echo: {$ref: 'more/real.yml#/x'}\n")
    write("lib/more/real.yml", "x:\n" + "\n".join("  " + l.strip() for l in STEP.strip().splitlines()) + "\n")
    wf = one_stage(write, step_ref="{$ref: 'lib/steps.yml#/echo'}")
    assert isinstance(load_workflow(wf).workflow.stages[0].body.process, CommandProcess)


def test_anchors_and_merge_keys(write):
    write("steps.yml", """
        common:
          env: &env {environment_type: docker-encapsulated, image: busybox, imagetag: '1.36'}
        echo:
          process: {process_type: string-interpolated-cmd, cmd: 'echo {msg} > {out}'}
          environment: {<<: *env, workdir: '{workdir}'}
          publisher: {publisher_type: frompar-pub, outputmap: {out: out}}
        """)
    wf = write("workflow.yml", """
        stages:
          - name: hello
            dependencies: [init]
            scheduler:
              scheduler_type: singlestep-stage
              parameters: {msg: hi, out: '{workdir}/o.txt'}
              step: {$ref: 'steps.yml#/echo'}
        """)
    env = load_workflow(wf).workflow.stages[0].body.environment
    assert (env.image, env.imagetag, env.workdir) == ("busybox", "1.36", "{workdir}")


def test_json_files_keep_positions(write):
    write("steps.json", json.dumps({"echo": {"process": {"process_type": "string-interpolated-cmd", "cmd": "echo {nope}"},
                                             "environment": None, "publisher": {"publisher_type": "constant-pub", "publish": {}}}}, indent=2))
    wf = one_stage(write, params="msg: hi", step_ref="{$ref: 'steps.json#/echo'}")
    problems = errors_of(wf)
    assert any("steps.json:2:11:" in p and "both be null" in p for p in problems)
    assert any("steps.json:5:14:" in p and "'{nope}'" in p for p in problems)


def test_yaml_1_1_scalars_as_yadage_reads_them(write):
    wf = one_stage(write, params="msg: [yes, on, y, n, NO]\nn: 010\nout: '{workdir}/o'")
    stage = load_workflow(wf).workflow.stages[0]
    values = {p.key: p.value.value for p in stage.parameters}
    # PyYAML (what yadage uses): yes/on/NO are booleans, y/n strings, 010 octal
    assert values == {"msg": (True, True, "y", "n", False), "n": 8, "out": "{workdir}/o"}


def test_ref_cycles_are_errors(write):
    write("a.yml", "x: {$ref: 'b.yml#/y'}\n")
    write("b.yml", "y: {$ref: 'a.yml#/x'}\n")
    problems = errors_of(one_stage(write, step_ref="{$ref: 'a.yml#/x'}"))
    assert len(problems) == 1 and "$ref cycle" in problems[0] and "a.yml#/x" in problems[0]


def test_self_containing_ref_is_a_cycle(write):
    write("loop.yml", "x:\n  inner: {$ref: '#/x'}\n")
    problems = errors_of(one_stage(write, step_ref="{$ref: 'loop.yml#/x'}"))
    assert any("$ref cycle" in p and "loop.yml:2:" in p for p in problems)


def test_a_ref_to_the_whole_document_from_inside_it_is_a_cycle(write):
    """Found by tests/fuzz_loader.py: `$ref: '#'` below the referenced part re-entered it (a
    KeyError traceback before)."""
    write("loop.yml", "x:\n  process: {process_type: string-interpolated-cmd, cmd: echo}\n  resources:\n    $ref: '#'\n")
    problems = errors_of(one_stage(write, step_ref="{$ref: 'loop.yml#/x'}"))
    assert any("$ref cycle" in p and "leads back" in p for p in problems), problems


def test_a_huge_list_of_wrong_values_is_explained_in_a_bounded_number_of_lines(write):
    """Found by tests/fuzz_loader.py: 200,000 wrong stages gave 200,000 lines and 26 s."""
    wf = write("workflow.yml", "stages: [" + ", ".join(str(i) for i in range(20_000)) + "]\n")
    problems = errors_of(wf)
    assert 100 <= len(problems) <= 102 and any("only the first 100" in p for p in problems)


def test_registered_values_must_say_they_are_expressions(write):
    """Found by tests/fuzz_compilers.py: yadage stores register_values as written and reads one
    only if it has an expression_type ('not an expression value' otherwise, a crash)."""
    text = one_stage(write).read_text().replace("      step:", "      register_values:\n        v: {stages: hello, output: o}\n      step:")
    problems = errors_of(write("workflow.yml", text))
    assert any("missing required key 'expression_type' in v" in p for p in problems), problems


def test_keys_beside_ref_are_dropped_with_a_warning(write):
    loaded = load_workflow(one_stage(write, step_ref="{$ref: 'steps.yml#/echo', environment: {environment_type: localproc-env}}"))
    assert isinstance(loaded.workflow.stages[0].body.environment, DockerEnvironment)  # as yadage: the sibling is ignored
    assert any("beside $ref" in w.message for w in loaded.warnings)


def test_alias_bomb_and_deep_nesting_are_refused(write):
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i, name in enumerate("bcdefghij"):
        prev = "abcdefghij"[i]
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 10)}]")
    problems = errors_of(write("bomb.yml", "\n".join(lines) + "\n"))
    assert len(problems) == 1 and "through aliases" in problems[0]
    problems = errors_of(write("deep.yml", "stages: " + "[" * 300 + "]" * 300 + "\n"))
    assert len(problems) == 1 and "deep" in problems[0]


def test_timestamps_and_non_mappings_are_refused(write):
    assert "timestamp" in errors_of(one_stage(write, params="msg: 2001-01-01"))[0]
    assert "expected a mapping" in errors_of(write("list.yml", "- a\n- b\n"))[0]


def test_ir_is_immutable(write):
    stage = load_workflow(one_stage(write, params="msg: {a: [1]}\nout: x")).workflow.stages[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        stage.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        stage.parameters[0].value.value["a"] = 2


def test_init_parameters_checked_when_given(write):
    wf = one_stage(write)
    assert load_workflow(wf, initdata={"msg": "hi"}).workflow
    problems = errors_of(wf, initdata={"mgs": "hi"})
    assert len(problems) == 1 and "init parameter 'msg' is not given" in problems[0] and "mgs" in problems[0]


@pytest.mark.parametrize("selector, expected", [
    ("map[*].stage1", ((("name", "map"), ("index", "*"), ("name", "stage1")),)),
    ("map.[*].stage1", ((("name", "map"), ("index", "*"), ("name", "stage1")),)),
    ("a,b", ((("name", "a"),), (("name", "b"),))),
    ("$.a[0:2]", ((("name", "a"), ("index", (0, 2))),)),
    ("a..b", ((("name", "a"), ("descend", "b")),)),
    ('"odd-name"', ((("name", "odd-name"),),)),
])
def test_selectors_parse(selector, expected):
    assert parse(selector) == expected


@pytest.mark.parametrize("selector", ["1abc", "a.", "a..", "", "a b", "[0]", "a[x]"])
def test_bad_selectors_are_refused(selector):
    with pytest.raises(SelectorError):
        parse(selector)


def test_docker_environment_behind_a_ref_needs_its_defaults_written(write):
    """yadage fills no defaults into a $ref target at its own level: KeyError 'par_mounts' at run time."""
    write("envs.yml", "busybox: {environment_type: docker-encapsulated, image: busybox}\n"
          "full: {environment_type: docker-encapsulated, image: busybox, imagetag: latest, resources: [], envscript: '', workdir: null, par_mounts: []}\n")
    write("steps.yml", "echo:\n" + "\n".join("  " + l.strip() for l in STEP.strip().splitlines()).replace(
        "environment: {environment_type: docker-encapsulated, image: busybox}", "environment: {$ref: 'envs.yml#/busybox'}") + "\n")
    wf = write("workflow.yml", "stages:\n- name: a\n  scheduler:\n    scheduler_type: singlestep-stage\n"
               "    parameters: {msg: hi, out: x}\n    step: {$ref: 'steps.yml#/echo'}\n")
    problems = errors_of(wf)
    assert len(problems) == 1 and "envs.yml:1:10:" in problems[0] and "KeyError 'par_mounts'" in problems[0]
    (wf.parent / "steps.yml").write_text((wf.parent / "steps.yml").read_text().replace("#/busybox", "#/full"))
    assert load_workflow(wf).workflow.stages[0].body.environment.image == "busybox"


def test_tabs_get_a_message_that_says_so(write):
    assert errors_of(write("tab.yml", "stages:\n\t- name: a\n")) == [f"{write('x', '').parent / 'tab.yml'}:2:1: YAML syntax error: a tab character: YAML indents with spaces only"]


TRICKY_SCALARS = """
bools: [yes, Yes, YES, no, on, Off, true, FALSE, y, n, Y, N]
ints: [010, 0o10, 0x1f, -0x1f, 0b101, 1_000, +12, 0]
sexagesimal: 1:30
negative_sexagesimal: -1:30
float_sexagesimal: 1:30.5
floats: [1.5, 1e3, 1.0e+3, .inf, -.Inf, 1_000.5, 6.8523015e+5]
nulls: [~, null, Null, '']
strings: [0777a, 1.2.3, '010', "yes", <<a]
times_as_text: ["2001-01-01", "12:30"]
nested: {a: &x [1, {b: 2}], c: *x, d: {<<: {e: 3}, f: 4}}
merges: {<<: [{x: 1, y: 2}, {x: 3, z: 4}], w: 5, y: 9}
"""


def test_scalars_read_exactly_as_pyyaml_reads_them():
    """yadage reads specs with PyYAML's safe_load: every value must come out the same."""
    import math

    import yaml

    from yadage2x.load.source import parse_text

    ours, theirs = parse_text(TRICKY_SCALARS, "t.yml"), yaml.safe_load(TRICKY_SCALARS)
    assert json.dumps(ours, default=repr) == json.dumps(theirs, default=repr)
    assert [type(v) for v in ours["ints"]] == [type(v) for v in theirs["ints"]]
    assert math.isinf(ours["floats"][3])


def test_non_text_keys_become_text_as_yadage_sees_them(write):
    """yadage passes specs through json.dumps/json.loads: keys 1, true, null become '1', 'true', 'null'."""
    from yadage2x.load.source import parse_text

    assert parse_text("{1: a, true: b, null: c, 1.5: d}", "k.yml") == {"1": "a", "true": "b", "null": "c", "1.5": "d"}
    wf = one_stage(write, params="msg: hi\nout: x\n2: two")
    assert [p.key for p in load_workflow(wf).workflow.stages[0].parameters] == ["msg", "out", "2"]


def test_a_ref_to_a_file_name_with_a_nul_is_one_line(write):
    """Found by tests/fuzz_loader.py: a NUL in a $ref's file name raised ValueError."""
    problems = errors_of(one_stage(write, step_ref="{$ref: \"st\\0eps.yml#/echo\"}"))
    assert problems and all("\0" not in p and "\n" not in p for p in problems)
    assert any("\\x00" in p for p in problems), problems
