"""Random valid yadage workflows, for differential testing of the emitters against yadage.

`generate(seed)` returns (workflow text, init data). Every stage is built from the outputs of
earlier ones, so each workflow is a DAG that runs: scatters (zip, cartesian, batchsize,
partitionsize) over init lists, over published file lists (fan-out known only at run time) and
over other scatters; nested sub-workflows scattered over init values; cases on init values and on
a value a step writes (fromyaml); jq-stages; register_values/fromvalue; every publisher but the
manual one. Steps run on the host (`localproc-env`) with POSIX sh, write files whose content is
derived from their inputs' contents (not their paths), and so are deterministic.

    python tests/workflow_generator.py SEED     # print one workflow and its init data
"""
from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass

HOST = "{environment_type: localproc-env}"


@dataclass
class Source:
    """An earlier stage, by what it publishes: 'file' (each instance one file), 'files' (one
    instance, a list of files), 'leaf' (scopes whose stage 'leaf' publishes 'file'), 'verdict'."""

    stage: str
    kind: str


def step(cmd: str, publisher: str) -> str:
    return f"""      step:
        process: {{process_type: string-interpolated-cmd, cmd: {json.dumps(cmd)}}}
        environment: {HOST}
        publisher: {publisher}"""


def file_publisher(rng: random.Random) -> str:
    """A publisher of the step's `out` parameter as `file`, known before the step runs."""
    return rng.choice([
        "{publisher_type: frompar-pub, outputmap: {file: out}}",
        "{publisher_type: interpolated-pub, publish: {file: '{out}'}}",
        "{publisher_type: fromparjq-pub, script: '{file: .out}'}",
    ])


def reading(source: Source) -> str:
    """A parameter value selecting every file of a source, as a flat list."""
    if source.kind == "files":
        return f"{{stages: {source.stage}, output: files, flatten: true}}"
    if source.kind == "leaf":
        return f"{{stages: '{source.stage}[*].leaf', output: file}}"
    return f"{{stages: {source.stage}, output: file}}"


class Generator:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.stages: list[str] = []
        self.sources: list[Source] = []
        self.values: list[str] = []  # registered value keys

    def add(self, name: str, text: str, source: Source | None) -> None:
        self.stages.append(text)
        if source:
            self.sources.append(source)

    def pick(self, *kinds: str) -> Source | None:
        fitting = [s for s in self.sources if s.kind in kinds]
        return self.rng.choice(fitting) if fitting else None

    # -- stage kinds ----------------------------------------------------------------------------

    def scatter_init(self, name: str) -> None:
        rng = self.rng
        grouping = rng.choice(["", "", f"\n      batchsize: {rng.randint(1, 3)}", f"\n      partitionsize: {rng.randint(1, 3)}"])
        if rng.random() < 0.4:
            params = "x: {step: init, output: xs}\n        y: {step: init, output: ys}"
            method, names, cmd = rng.choice(["zip", "cartesian"]), "[x, y]", "echo {x}-{y} > {out}"
        else:
            params, method, names, cmd = "x: {step: init, output: xs}", "zip", "[x]", "echo {x} {tag} > {out}"
        self.add(name, f"""  - name: {name}
    dependencies: [init]
    scheduler:
      scheduler_type: multistep-stage
      parameters:
        {params}
        tag: {rng.choice(['a', 'b', 'c'])}
        out: '{{workdir}}/out.txt'
      scatter: {{method: {method}, parameters: {names}}}{grouping}
{step(cmd, file_publisher(rng))}""", Source(name, "file"))

    def split(self, name: str) -> None:
        """One file per item of a list: published by a glob, so known only after the run."""
        rng = self.rng
        src = self.pick("file", "files", "leaf")
        if src is None or rng.random() < 0.3:
            deps, params, cmd = "[init]", "xs: {step: init, output: xs}", "for i in {xs}; do echo $i > part_$i.txt; done"
        else:
            deps, params = f"[{src.stage}]", f"inputs: {reading(src)}"
            cmd = "i=0; for f in {inputs}; do i=$((i+1)); cat $f > part_$i.txt; done; echo done > part_0.txt"
        publisher = rng.choice([
            "{publisher_type: fromglob-pub, globexpression: 'part_*.txt', outputkey: files}",
            "{publisher_type: interpolated-pub, glob: true, publish: {files: '{workdir}/part_*.txt'}}",
        ])
        self.add(name, f"""  - name: {name}
    dependencies: {deps}
    scheduler:
      scheduler_type: singlestep-stage
      parameters:
        {params}
        dir: '{{workdir}}'
{step("cd {dir} && " + cmd, publisher)}""", Source(name, "files"))

    def fan(self, name: str) -> None:
        """A scatter over the files of an earlier stage (dynamic when they come from a glob)."""
        rng = self.rng
        src = self.pick("files", "file", "leaf")
        if src is None:
            return self.scatter_init(name)
        over = f"{{stages: {src.stage}, output: files, unwrap: true}}" if src.kind == "files" else reading(src)
        grouping = rng.choice(["", "", f"\n      batchsize: {rng.randint(1, 2)}", f"\n      partitionsize: {rng.randint(1, 3)}"])
        if rng.random() < 0.3:
            params, method, names = f"f: {over}\n        y: {{step: init, output: ys}}", "cartesian", "[f, y]"
            cmd = "cat {f} > {out} </dev/null && echo {y} >> {out}"
        else:
            params, method, names, cmd = f"f: {over}", "zip", "[f]", "cat {f} </dev/null | sed 's/^/> /' > {out}"
        self.add(name, f"""  - name: {name}
    dependencies: [{src.stage}]
    scheduler:
      scheduler_type: multistep-stage
      parameters:
        {params}
        out: '{{workdir}}/out.txt'
      scatter: {{method: {method}, parameters: {names}}}{grouping}
{step(cmd, file_publisher(rng))}""", Source(name, "file"))

    def gather(self, name: str) -> None:
        """A single step concatenating one or two earlier stages' files."""
        rng = self.rng
        picked = {s.stage: s for s in (self.pick("file", "files", "leaf") for _ in range(2)) if s}
        if not picked:
            return self.scatter_init(name)
        params = "\n        ".join(f"in{i}: {reading(s)}" for i, s in enumerate(picked.values()))
        cmd = "cat " + " ".join(f"{{in{i}}}" for i in range(len(picked))) + " </dev/null | sort > {out}"
        register = ""
        if rng.random() < 0.3:
            key = f"v_{name}"
            register = f"\n      register_values:\n        {key}: {{expression_type: stage-output-selector, stages: {name}, output: file}}"
            self.values.append(key)
        self.add(name, f"""  - name: {name}
    dependencies: [{', '.join(picked)}]
    scheduler:
      scheduler_type: singlestep-stage
      parameters:
        {params}
        out: '{{workdir}}/all.txt'{register}
{step(cmd, file_publisher(rng))}""", Source(name, "file"))

    def decide(self, name: str) -> None:
        """A step that writes a verdict (fromyaml-pub: a value known only after it ran)."""
        src = self.pick("file", "files", "leaf")
        deps, params = ("[init]", "inputs: {step: init, output: xs}") if src is None else (f"[{src.stage}]", f"inputs: {reading(src)}")
        count = "echo {inputs} | wc -w" if src is None else "cat {inputs} </dev/null | wc -l"
        limit = self.rng.randint(1, 6)
        cmd = f"n=$({count}); if [ $n -gt {limit} ]; then v=big; else v=small; fi; printf 'verdict: %s\\ncount: %s\\n' $v $n > {{dir}}/decision.yml"
        self.add(name, f"""  - name: {name}
    dependencies: {deps}
    scheduler:
      scheduler_type: singlestep-stage
      parameters:
        {params}
        dir: '{{workdir}}'
{step(cmd, "{publisher_type: fromyaml-pub, yamlfile: decision.yml}")}""", Source(name, "verdict"))

    def cases(self, name: str) -> None:
        """Cases on a run-time verdict, or on an init value (decided before anything runs)."""
        rng = self.rng
        src = self.pick("verdict")
        if src is not None and rng.random() < 0.7:
            deps, value, test = f"[{src.stage}]", f"{{step: {src.stage}, output: verdict}}", '.v == "big"'
        else:
            deps, value, test = "[init]", "{step: init, output: mode}", '.v == "a"'
        branch = """          step:
            process: {{process_type: string-interpolated-cmd, cmd: "echo {text} {{v}} > {{out}}"}}
            environment: {host}
            publisher: {publisher}"""
        second = rng.choice([f"'{test} | not'", "'false'"])  # 'false': sometimes no case holds
        self.add(name, f"""  - name: {name}
    dependencies: {deps}
    scheduler:
      scheduler_type: singlestep-stage
      parameters:
        v: {value}
        out: '{{workdir}}/case.txt'
      cases:
        - if: '{test}'
{branch.format(text='first', host=HOST, publisher=file_publisher(rng))}
        - if: {second}
{branch.format(text='second', host=HOST, publisher=file_publisher(rng))}""", Source(name, "file"))

    def nested(self, name: str) -> None:
        """A scatter over a two-stage sub-workflow."""
        rng = self.rng
        pub = file_publisher(rng)
        self.add(name, f"""  - name: {name}
    dependencies: [init]
    scheduler:
      scheduler_type: multistep-stage
      parameters:
        x: {{step: init, output: xs}}
      scatter: {{method: zip, parameters: [x]}}{rng.choice(['', f'''
      batchsize: {rng.randint(1, 2)}'''])}
      workflow:
        stages:
          - name: inner
            dependencies: [init]
            scheduler:
              scheduler_type: singlestep-stage
              parameters:
                x: {{step: init, output: x}}
                out: '{{workdir}}/inner.txt'
              step:
                process: {{process_type: string-interpolated-cmd, cmd: 'echo inner {{x}} > {{out}}'}}
                environment: {HOST}
                publisher: {pub}
          - name: leaf
            dependencies: [inner]
            scheduler:
              scheduler_type: singlestep-stage
              parameters:
                f: {{step: inner, output: file}}
                out: '{{workdir}}/leaf.txt'
              step:
                process: {{process_type: string-interpolated-cmd, cmd: 'cat {{f}} {{f}} > {{out}}'}}
                environment: {HOST}
                publisher: {pub}""", Source(name, "leaf"))

    def jq(self, name: str) -> None:
        """A jq-stage: one step per file of an earlier stage, built by a stepscript."""
        src = self.pick("file")
        if src is None:
            return self.scatter_init(name)
        self.add(name, f"""  - name: {name}
    dependencies: [{src.stage}]
    scheduler:
      scheduler_type: jq-stage
      bindings:
        files: {{$wflowref: ['.{src.stage}[]', '.file']}}
      stepscript: '.files | map({{inp: .[0], out: "{{workdir}}/jq.txt"}})'
      postscript: '. + {{label: "jq"}}'
{step("cat {inp} > {out} && echo {label} >> {out}", "{publisher_type: frompar-pub, outputmap: {file: out}}")}""", Source(name, "file"))

    def use_value(self, name: str) -> None:
        if not self.values:
            return self.gather(name)
        key = self.rng.choice(self.values)
        self.add(name, f"""  - name: {name}
    dependencies: [{key[2:]}]
    scheduler:
      scheduler_type: singlestep-stage
      parameters:
        f: {{expression_type: fromvalue, key: {key}}}
        out: '{{workdir}}/value.txt'
{step("cat {f} > {out} && echo from-value >> {out}", "{publisher_type: constant-pub, publish: {note: done}}")}""", None)


KINDS = ["scatter_init", "split", "fan", "fan", "gather", "decide", "cases", "nested", "jq", "use_value"]


def generate(seed: int, stages: int | None = None) -> tuple[str, dict]:
    gen = Generator(seed)
    rng = gen.rng
    count = stages or rng.randint(3, 8)
    gen.scatter_init("s0") if rng.random() < 0.5 else gen.split("s0")
    for i in range(1, count):
        getattr(gen, rng.choice(KINDS))(f"s{i}")
    init = {"xs": [rng.randint(0, 9) for _ in range(rng.randint(1, 5))],
            "ys": rng.sample(["p", "q", "r"], rng.randint(1, 3)), "mode": rng.choice(["a", "b"])}
    text = f"# generated by tests/workflow_generator.py, seed {seed}\nstages:\n" + "\n\n".join(gen.stages) + "\n"
    return text, init


if __name__ == "__main__":
    text, init = generate(int(sys.argv[1]))
    print(text)
    print("# init:", json.dumps(init))
