cwlVersion: v1.2
id: summarize_tool
class: CommandLineTool
label: step of stage 'summarize'
inputs:
- id: sample
  type: string
- id: draws
  type:
    type: array
    items:
    - 'null'
    - File
    - Directory
outputs:
- id: outputs
  type:
    type: array
    items:
    - File
    - Directory
  outputBinding:
    glob:
    - lines.txt
    - count.txt
- id: workdir
  type: Directory
  outputBinding:
    glob: $(runtime.outdir)
requirements:
- class: InlineJavascriptRequirement
  expressionLib:
  - |-
    var yadage = {
      // Python's repr() of a JSON value; files are their paths
      repr: function (v, top) {
        if (v === null || v === undefined) { return "None"; }
        if (v === true) { return "True"; }
        if (v === false) { return "False"; }
        if (typeof v === "number") { return String(v); }
        if (typeof v === "string") { return top ? v : yadage.quote(v); }
        if (v.class === "File" || v.class === "Directory") { return top ? v.path : yadage.quote(v.path); }
        if (Array.isArray(v)) {
          return "[" + v.map(function (x) { return yadage.repr(x, false); }).join(", ") + "]";
        }
        // yadage hands mappings over as JSON with sorted keys
        return "{" + Object.keys(v).sort().map(function (k) {
          return yadage.quote(k) + ": " + yadage.repr(v[k], false);
        }).join(", ") + "}";
      },
      quote: function (s) {
        var body = s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\t/g, "\\t");
        if (s.indexOf("'") >= 0 && s.indexOf('"') < 0) { return '"' + body + '"'; }
        return "'" + body.replace(/'/g, "\\'") + "'";
      },
      // str.format of one value (publishers, parameters)
      str: function (v) { return yadage.repr(v, true); },
      // one value in a command: a top-level list is joined with spaces
      arg: function (v) {
        return Array.isArray(v) ? v.map(function (x) { return yadage.str(x); }).join(" ") : yadage.str(v);
      },
      // instances picked by selector indices: '*' keeps a level, an integer keeps one entry
      pick: function (v, path) {
        if (path.length === 0) { return v; }
        var rest = path.slice(1);
        if (path[0] === "*") { return v.map(function (x) { return yadage.pick(x, rest); }); }
        var i = path[0] < 0 ? v.length + path[0] : path[0];
        return (i >= 0 && i < v.length) ? [yadage.pick(v[i], rest)] : [];
      },
      // a stages: selection: one item per instance (depth = scattered levels), then flatten, unwrap
      select: function (v, depth, flatten, unwrap) {
        var items = depth === 0 ? [v] : v;
        for (var d = 1; d < depth; d++) { items = [].concat.apply([], items); }
        if (flatten) {
          items = [].concat.apply([], items.map(function (x) { return Array.isArray(x) ? x : [x]; }));
        }
        return (unwrap && items.length === 1) ? items[0] : items;
      },
      // a union of selectors ('a,b'): the entries of each in turn
      union: function (values, depths, flatten, unwrap) {
        var items = [];
        values.forEach(function (v, i) { items = items.concat(yadage.select(v, depths[i], false, false)); });
        return yadage.select(items, 1, flatten, unwrap);
      },
      // case conditions: jq's truth (only false and null are false), then yadage's bool()
      jqtrue: function (v) { return v !== false && v !== null && v !== undefined; },
      pytrue: function (v) {
        if (Array.isArray(v)) { return v.length > 0; }
        if (v !== null && typeof v === "object") { return Object.keys(v).length > 0; }
        return v !== false && v !== null && v !== undefined && v !== 0 && v !== "";
      },
      json: function (v) {
        if (Array.isArray(v)) { return "[" + v.map(yadage.json).join(",") + "]"; }
        if (v !== null && typeof v === "object") {
          return "{" + Object.keys(v).sort().map(function (k) { return JSON.stringify(k) + ":" + yadage.json(v[k]); }).join(",") + "}";
        }
        return JSON.stringify(v);
      },
      eq: function (a, b) { return yadage.json(a) === yadage.json(b); },
      key: function (v, k) { return (v !== null && typeof v === "object" && k in v) ? v[k] : null; },
      // per instance, what the case that ran published (the others give null)
      chosen: function (lists) {
        var n = Math.max.apply(null, lists.map(function (l) { return l.length; }));
        var out = [];
        for (var i = 0; i < n; i++) {
          var v = null;
          lists.forEach(function (l) { if (v === null && l[i] !== null && l[i] !== undefined) { v = l[i]; } });
          out.push(v);
        }
        return out;
      },
      group: function (values, batchsize, partitionsize) {
        var out = [], start = 0, k;
        if (batchsize) {
          for (k = 0; k < values.length; k += batchsize) { out.push(values.slice(k, k + batchsize)); }
          return out;
        }
        if (partitionsize) {
          var parts = Math.min(partitionsize, values.length);
          for (k = 0; k < parts; k++) {
            var size = Math.floor((values.length + k) / parts);
            out.push(values.slice(start, start + size));
            start += size;
          }
          return out;
        }
        return values;
      },
      // the pieces each scattered parameter contributes; zip truncates to the shortest
      scatter: function (values, method, batchsize, partitionsize) {
        var names = Object.keys(values), out = {}, shortest = Infinity;
        names.forEach(function (n) {
          out[n] = yadage.group(values[n], batchsize, partitionsize);
          shortest = Math.min(shortest, out[n].length);
        });
        if (method === "zip") {
          names.forEach(function (n) { out[n] = out[n].slice(0, shortest); });
        }
        return out;
      }
    };
hints:
- class: DockerRequirement
  dockerPull: busybox:latest
baseCommand:
- sh
- -c
arguments:
- valueFrom: cat $(yadage.arg(inputs.draws)) > $(runtime.outdir)/lines.txt && awk 'END { print "$(inputs.sample):", NR }' $(runtime.outdir)/lines.txt > $(runtime.outdir)/count.txt
