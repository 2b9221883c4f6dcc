"""yadage's run-time rules in plain Python: the one implementation that the emitters inline into
the workflows they write (so it imports nothing but the standard library).

Each rule is yadage's (yadage 0.21 / packtivity 0.17, yadage-spec §2-§3), and
`tests/test_runtime.py` checks it against yadage's own code on generated cases:
- `contextualise`: every string leaf of a step's parameters is formatted with {workdir} and
  {readdirN}; packtivity leaves a value alone when formatting raises AttributeError or IndexError;
- `render`: cmd/script formatting: a top-level list value is joined with spaces, everything else
  is str() (nested lists and dicts as Python reprs, true as True, null as None); list parameters
  fill positional fields, a scalar fills {value};
- `scatter`: multistep instances: each scattered value grouped by batchsize or partitionsize,
  then zip (truncating to the shortest) or cartesian (first parameter slowest);
- `combine`: the list a `stages:` selection gives: flatten splices list results one level,
  unwrap returns the single element;
- publishers: `frompar`, `constant`, `interpolated`, `fromglob` (glob results sorted: yadage's are
  in file-system order, which differs between machines).
"""
from __future__ import annotations

import copy
import glob
import itertools
import os


def leaves(value, path=()):
    """(path, leaf) for every non-container value, depth first, in order."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield from leaves(child, path + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from leaves(child, path + (index,))
    else:
        yield path, value


def replaced(value, path, new):
    """``value`` with the leaf at ``path`` replaced (a copy where it changed; root path = new)."""
    if not path:
        return new
    out = copy.copy(value)
    out[path[0]] = replaced(value[path[0]], path[1:], new)
    return out


def contextualise(parameters, workdir: str | None, readdirs: list[str] = ()):
    """Fill {workdir} and {readdirN} in every string leaf of a step's parameters."""
    names = {f"readdir{i}": d for i, d in enumerate(readdirs)}
    if workdir is not None:
        names["workdir"] = workdir
    result = parameters
    for path, leaf in list(leaves(parameters)):
        if isinstance(leaf, str):
            try:
                result = replaced(result, path, leaf.format(**names))
            except IndexError:  # a positional field such as {0}: packtivity leaves the value as it is
                pass
    return result


def _argument(value):
    return " ".join(str(item) for item in value) if type(value) is list else value


def render(template: str, parameters) -> str:
    """A cmd or script with the (contextualised) parameters filled in, as packtivity does."""
    if isinstance(parameters, dict):
        return template.format(**{key: _argument(value) for key, value in parameters.items()})
    if isinstance(parameters, list):
        return template.format(*[_argument(value) for value in parameters])
    return template.format(value=parameters)


def group(values, batchsize: int | None = None, partitionsize: int | None = None) -> list:
    """Split a scattered value into the pieces that become instances."""
    if batchsize:
        return [values[i:i + batchsize] for i in range(0, len(values), batchsize)]
    if partitionsize:
        parts = min(partitionsize, len(values))
        out, start = [], 0
        for k in range(parts):
            size = (len(values) + k) // parts
            out.append(values[start:start + size])
            start += size
        return out
    return values


def scatter(parameters: dict, method: str, names: list[str], batchsize=None, partitionsize=None) -> list[dict]:
    """The parameter sets of a multistep stage's instances, in yadage's order."""
    common = dict(parameters)
    pieces = {name: group(common.pop(name), batchsize, partitionsize) for name in names}
    if method == "zip":
        combos = zip(*[pieces[name] for name in names])
    elif method == "cartesian":
        combos = itertools.product(*[pieces[name] for name in names])
    else:
        return []
    return [{**common, **dict(zip(names, combo))} for combo in combos]


def combine(results: list, flatten: bool, unwrap: bool):
    """The value of a `stages:` selection from the selected results."""
    combined = []
    for result in results:
        if type(result) is list and flatten:
            combined.extend(result)
        else:
            combined.append(result)
    if unwrap and len(combined) == 1:
        return combined[0]
    return combined


def publish_frompar(outputmap, parameters: dict):
    """Each leaf of the output map names a parameter; the result has the map's shape."""
    result = copy.deepcopy(outputmap)
    for path, name in list(leaves(outputmap)):
        result = replaced(result, path, parameters[name])
    return result


def publish_constant(publish):
    return copy.deepcopy(publish)


def _sorted_glob(pattern: str) -> list[str]:
    return sorted(glob.glob(pattern, recursive=True))


def publish_interpolated(publish, parameters, workdir: str, globbed: bool = False, relative_paths: bool = False):
    """Each string leaf formatted with the parameters (lists not joined) and {workdir}."""
    result = copy.deepcopy(publish)
    for path, leaf in list(leaves(publish)):
        if not isinstance(leaf, str):
            continue
        if isinstance(parameters, dict):
            value = leaf.format(workdir=workdir, **parameters)
        elif isinstance(parameters, list):
            value = leaf.format(*parameters, workdir=workdir)
        else:
            value = leaf.format(workdir=workdir, value=parameters)
        pattern = value
        # packtivity's test for "relative": no common leading characters with the work directory
        if relative_paths and os.path.commonprefix([workdir, pattern]) == "":
            pattern = os.path.join(workdir, value)
        if globbed:
            matches = _sorted_glob(pattern)
            value = matches if matches else value
        else:
            value = pattern
        result = replaced(result, path, value)
    return result


def publish_fromglob(workdir: str, globexpression: str, outputkey: str) -> dict:
    return {outputkey: _sorted_glob(f"{workdir}/{globexpression}")}
