"""The JavaScript that emitted CWL carries, for the few things CWL cannot say otherwise.

CWL parameter references cover files (`$(inputs.x.path)`), strings and integers. What is left
is yadage's own run-time rules, which no CWL construct expresses:
- `str`/`arg`: packtivity formats values with Python's str() (True, None, ['a', 'b']), and
  joins a top-level list with spaces in commands (yadage2x/runtime.py `render`);
- `select`, `union`: a `stages:` selection is a list over every instance of every scope
  crossed (of each alternative of a union in turn), shaped by flatten and unwrap (runtime.py
  `combine`);
- `pick`: an index in a selector (`outer[0].middle[0].export`);
- `scatter`: batchsize/partitionsize grouping and zip's truncation to the shortest list
  (runtime.py `group`, `scatter`), done before CWL's own scatter.
Each function mirrors the Python rule of the same name in yadage2x/runtime.py.
"""

LIBRARY = r"""var yadage = {
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
  // jq's .[]: the items of a list, the values of a mapping
  each: function (v) {
    if (Array.isArray(v)) { return v; }
    return Object.keys(v).map(function (k) { return v[k]; });
  },
  // files as the paths a jq program sees, then Python's json.dumps, one output a line (par_mounts)
  plain: function (v) {
    if (v !== null && typeof v === "object" && (v.class === "File" || v.class === "Directory")) { return v.path; }
    if (Array.isArray(v)) { return v.map(yadage.plain); }
    if (v !== null && typeof v === "object") {
      var out = {};
      Object.keys(v).forEach(function (k) { out[k] = yadage.plain(v[k]); });
      return out;
    }
    return v;
  },
  pyjson: function (v) {
    if (Array.isArray(v)) { return "[" + v.map(yadage.pyjson).join(", ") + "]"; }
    if (v !== null && typeof v === "object") {
      return "{" + Object.keys(v).map(function (k) { return yadage.pyjson(k) + ": " + yadage.pyjson(v[k]); }).join(", ") + "}";
    }
    if (typeof v === "string") {
      return JSON.stringify(v).replace(/[\u0080-\uffff]/g, function (c) {
        return "\\u" + ("0000" + c.charCodeAt(0).toString(16)).slice(-4);
      });
    }
    return JSON.stringify(v);
  },
  jqtext: function (outputs) { return outputs.map(function (v) { return yadage.pyjson(yadage.plain(v)); }).join("\n"); },
  // keys into a YAML result, in each instance
  at: function (v, depth, keys) {
    if (depth > 0) { return v.map(function (x) { return yadage.at(x, depth - 1, keys); }); }
    keys.forEach(function (k) {
      if (v === null || typeof v !== "object" || !(k in v)) { throw "no matches found in reference selection: " + keys.join("."); }
      v = v[k];
    });
    return v;
  },
  // the YAML that steps write (fromyaml-pub): block mappings and lists, flow lists and
  // mappings of scalars, and scalars as YAML 1.1 reads them; anything else is an error
  yaml: function (text) {
    var lines = text.split("\n").map(function (l) { return l.replace(/\s+#.*$/, "").replace(/\s+$/, ""); })
      .filter(function (l) { return l.trim() !== "" && l.trim() !== "---" && l.trim().charAt(0) !== "#"; });
    var pos = 0;
    function indent(l) { return l.length - l.replace(/^ +/, "").length; }
    function scalar(s) {
      s = s.trim();
      if (s === "" || /^(~|null|Null|NULL)$/.test(s)) { return null; }
      if (/^(true|True|TRUE|yes|Yes|YES|on|On|ON)$/.test(s)) { return true; }
      if (/^(false|False|FALSE|no|No|NO|off|Off|OFF)$/.test(s)) { return false; }
      if (/^[-+]?[0-9]+$/.test(s)) { return parseInt(s, 10); }
      if (/^[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/.test(s)) { return parseFloat(s); }
      if (s.charAt(0) === '"') { return JSON.parse(s); }
      if (s.charAt(0) === "'") { return s.slice(1, -1).replace(/''/g, "'"); }
      if (s.charAt(0) === "[" || s.charAt(0) === "{") {
        var inner = s.slice(1, -1).trim();
        if (inner === "") { return s.charAt(0) === "[" ? [] : {}; }
        var parts = inner.split(",");
        if (s.charAt(0) === "[") { return parts.map(scalar); }
        var out = {};
        parts.forEach(function (p) { var i = p.indexOf(":"); out[p.slice(0, i).trim()] = scalar(p.slice(i + 1)); });
        return out;
      }
      if (/^[&*!|>%@`]/.test(s)) { throw "fromyaml-pub: YAML this workflow's parser does not read: " + s; }
      return s;
    }
    function block(level) {
      var first = lines[pos].slice(level);
      if (first.charAt(0) === "-" && (first.length === 1 || first.charAt(1) === " ")) {
        var list = [];
        while (pos < lines.length && indent(lines[pos]) === level && lines[pos].slice(level).charAt(0) === "-") {
          var rest = lines[pos].slice(level + 1).trim();
          pos++;
          if (rest === "") { list.push(block(indent(lines[pos]))); }
          else if (/^[^'"\[{][^:]*:( |$)/.test(rest)) {
            lines.splice(pos, 0, new Array(level + 3).join(" ") + rest);
            list.push(block(level + 2));
          } else { list.push(scalar(rest)); }
        }
        return list;
      }
      var map = {};
      while (pos < lines.length && indent(lines[pos]) === level) {
        var line = lines[pos].slice(level), m = /^("[^"]*"|'[^']*'|[^:]+):( (.*)|)$/.exec(line);
        if (!m) { throw "fromyaml-pub: YAML this workflow's parser does not read: " + line; }
        var key = scalar(m[1]);
        pos++;
        if ((m[3] || "").trim() !== "") { map[key] = scalar(m[3]); }
        else if (pos < lines.length && (indent(lines[pos]) > level || (indent(lines[pos]) === level && lines[pos].slice(level).charAt(0) === "-"))) {
          map[key] = block(indent(lines[pos]));
        } else { map[key] = null; }
      }
      return map;
    }
    if (lines.length === 0) { return null; }
    if (lines.length === 1 && !/^[^'"\[{]*: |:$/.test(lines[0]) && lines[0].charAt(0) !== "-") { return scalar(lines[0]); }
    var result = block(indent(lines[0]));
    if (pos !== lines.length) { throw "fromyaml-pub: YAML this workflow's parser does not read: " + lines[pos]; }
    return result;
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
};"""
