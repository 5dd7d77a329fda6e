// evalkit report: the per-case table, built from the embedded JSON payload.
// Data from models and datasets is only ever put into the page as text (textContent,
// createTextNode): never through innerHTML.
(function () {
  "use strict";

  performance.mark("evalkit-start");
  var data = JSON.parse(document.getElementById("evalkit-data").textContent);
  performance.mark("evalkit-parsed");
  var metrics = data.metrics;
  var cases = data.cases;
  var compare = data.mode === "comparison";
  var PAGE = 200;
  var EPS = 1e-9;

  var els = {
    search: document.getElementById("case-search"),
    metric: document.getElementById("filter-metric"),
    verdict: document.getElementById("filter-verdict"),
    flip: document.getElementById("filter-flip"),
    tag: document.getElementById("filter-tag"),
    flaky: document.getElementById("filter-flaky"),
    sort: document.getElementById("sort"),
    count: document.getElementById("case-count"),
    rows: document.getElementById("case-rows"),
    more: document.getElementById("show-more"),
    table: document.getElementById("case-table"),
  };

  var state = { shown: PAGE, list: [], expanded: new Set() };
  var haystacks = null; // built on first search

  // ------------------------------------------------------------ small helpers

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function fmt(value) {
    if (value === null || value === undefined) return "–";
    if (Number.isInteger(value)) return String(value);
    return value.toFixed(3);
  }

  function fmtSigned(value) {
    if (value === null || value === undefined) return "–";
    if (value === 0) return "0";
    return (value > 0 ? "+" : "") + (Number.isInteger(value) ? String(value) : value.toFixed(3));
  }

  function delta(c, i) {
    if (!c.b || c.b[i] === null || c.c[i] === null) return null;
    return c.c[i] - c.b[i];
  }

  // Delta oriented so that negative always means "worse".
  function oriented(c, i) {
    var d = delta(c, i);
    if (d === null) return null;
    return metrics[i].hib ? d : -d;
  }

  function flipOf(c, i) {
    return c.f ? c.f[i] : 0;
  }

  function hasFlag(c, flag) {
    return !!(c.fl && c.fl.indexOf(flag) >= 0);
  }

  // ------------------------------------------------------------ word diff

  // Tokens: runs of whitespace, words, single other characters; they join back to the text.
  var TOKEN = /\s+|[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]/gu;
  var MAX_CELLS = 4000000;

  // Returns [op, text] segments of old -> new: 0 in both, -1 old only, 1 new only.
  function wordDiff(oldText, newText) {
    var a = oldText.match(TOKEN) || [], b = newText.match(TOKEN) || [];
    var segments = [];
    function push(op, text) {
      if (!text) return;
      var last = segments[segments.length - 1];
      if (last && last[0] === op) last[1] += text;
      else segments.push([op, text]);
    }
    var start = 0;
    while (start < a.length && start < b.length && a[start] === b[start]) start++;
    var endA = a.length, endB = b.length;
    while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) { endA--; endB--; }
    push(0, a.slice(0, start).join(""));
    var n = endA - start, m = endB - start, i, j;
    if ((n + 1) * (m + 1) > MAX_CELLS) {
      push(-1, a.slice(start, endA).join(""));
      push(1, b.slice(start, endB).join(""));
    } else {
      // Longest common subsequence of the middle tokens, then one walk through it.
      var w = m + 1, lcs = new Uint32Array((n + 1) * w);
      for (i = n - 1; i >= 0; i--) {
        for (j = m - 1; j >= 0; j--) {
          lcs[i * w + j] = a[start + i] === b[start + j]
            ? lcs[(i + 1) * w + j + 1] + 1
            : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
        }
      }
      i = 0; j = 0;
      while (i < n && j < m) {
        if (a[start + i] === b[start + j]) { push(0, a[start + i]); i++; j++; }
        else if (lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) { push(-1, a[start + i]); i++; }
        else { push(1, b[start + j]); j++; }
      }
      for (; i < n; i++) push(-1, a[start + i]);
      for (; j < m; j++) push(1, b[start + j]);
    }
    push(0, a.slice(endA).join(""));
    return mergeShortEquals(segments);
  }

  // A lone space or punctuation mark matched between two changes makes a diff noisy
  // ("-a +c  -b +d"); fold it into the changes ("-a b +c d"). Each side keeps its text.
  var SHORT_GAP = /^[^\p{L}\p{N}]{0,3}$/u;
  function mergeShortEquals(segments) {
    var out = [], del = "", ins = "";
    function flush() {
      if (del) out.push([-1, del]);
      if (ins) out.push([1, ins]);
      del = ""; ins = "";
    }
    for (var k = 0; k < segments.length; k++) {
      var op = segments[k][0], text = segments[k][1];
      var next = segments[k + 1];
      if (op === 0 && (del || ins) && next && next[0] !== 0 && SHORT_GAP.test(text)) {
        del += text; ins += text;
      } else if (op === 0) {
        flush();
        out.push([0, text]);
      } else if (op === -1) {
        del += text;
      } else {
        ins += text;
      }
    }
    flush();
    return out;
  }
  window.evalkitWordDiff = wordDiff; // for tests and the curious

  // ------------------------------------------------------------ per-case verdicts

  function compareStatus(c, i) {
    if (hasFlag(c, "added")) return "added";
    if (hasFlag(c, "removed")) return "removed";
    if (c.b[i] === null || c.c[i] === null) return "unscored";
    var o = oriented(c, i);
    if (flipOf(c, i) === -1 || o < -EPS) return "regressed";
    if (flipOf(c, i) === 1 || o > EPS) return "improved";
    return "unchanged";
  }

  function singleStatus(c, i) {
    var v = c.c[i];
    if (v === null) return c.err ? "error" : "unscored";
    var thr = metrics[i].thr;
    if (thr === null || thr === undefined) return "scored";
    var ok = metrics[i].hib ? v >= thr - EPS : v <= thr + EPS;
    return ok ? "pass" : "fail";
  }

  function statusOf(c, i) {
    return compare ? compareStatus(c, i) : singleStatus(c, i);
  }

  function statusAny(c) {
    var seen = {};
    for (var i = 0; i < metrics.length; i++) seen[statusOf(c, i)] = true;
    var order = compare
      ? ["added", "removed", "regressed", "improved", "unscored", "unchanged"]
      : ["error", "fail", "unscored", "pass", "scored"];
    for (var k = 0; k < order.length; k++) if (seen[order[k]]) return order[k];
    return compare ? "unchanged" : "scored";
  }

  function matchesVerdict(c, m, verdict) {
    if (verdict === "all") return true;
    if (verdict === "critical") return hasFlag(c, "critical-failed");
    if (verdict === "error") return !!c.err;
    if (m < 0) {
      for (var i = 0; i < metrics.length; i++) if (statusOf(c, i) === verdict) return true;
      return false;
    }
    return statusOf(c, m) === verdict;
  }

  function matchesFlip(c, m, flip) {
    if (!flip || flip === "all") return true;
    var want = flip === "to-fail" ? -1 : flip === "to-pass" ? 1 : 0;
    for (var i = 0; i < metrics.length; i++) {
      if (m >= 0 && i !== m) continue;
      var f = flipOf(c, i);
      if (f !== 0 && (want === 0 || f === want)) return true;
    }
    return false;
  }

  // The sort key: how much worse the case got (or how low it scored), negative = worse.
  function sortKey(c, m) {
    if (compare) {
      if (m >= 0) {
        var o = oriented(c, m);
        if (flipOf(c, m) === -1) return Math.min(o === null ? 0 : o, -1);
        return o;
      }
      var worst = null;
      for (var i = 0; i < metrics.length; i++) {
        var oi = oriented(c, i);
        if (flipOf(c, i) === -1) oi = Math.min(oi === null ? 0 : oi, -1);
        if (oi !== null && (worst === null || oi < worst)) worst = oi;
      }
      return worst;
    }
    var lowest = null;
    for (var j = 0; j < metrics.length; j++) {
      if (m >= 0 && j !== m) continue;
      var v = c.c[j];
      if (v === null) continue;
      var ov = metrics[j].hib ? v : -v;
      if (lowest === null || ov < lowest) lowest = ov;
    }
    return lowest;
  }

  function haystackOf(index) {
    if (!haystacks) haystacks = new Array(cases.length);
    if (haystacks[index] === undefined) {
      var c = cases[index];
      var parts = [c.id];
      if (c.t) for (var k = 0; k < c.t.length; k++) parts.push(data.tags[c.t[k]]);
      var x = c.x;
      if (x) {
        if (x["in"]) parts.push(x["in"]);
        if (x.p) parts.push(x.p);
        if (x.exp) parts.push(x.exp);
        if (x.ob) parts.push(x.ob);
        if (x.oc) parts.push(x.oc);
      }
      haystacks[index] = parts.join("\n").toLowerCase();
    }
    return haystacks[index];
  }

  // ------------------------------------------------------------ filtering and sorting

  function currentMetric() {
    return els.metric ? parseInt(els.metric.value, 10) : 0;
  }

  function applyFilters() {
    var query = els.search.value.trim().toLowerCase();
    var m = currentMetric();
    var verdict = els.verdict.value;
    var flip = els.flip ? els.flip.value : "all";
    var tag = els.tag.value === "all" ? -1 : parseInt(els.tag.value, 10);
    var flakyOnly = els.flaky ? els.flaky.checked : false;
    var list = [];
    for (var i = 0; i < cases.length; i++) {
      var c = cases[i];
      if (tag >= 0 && !(c.t && c.t.indexOf(tag) >= 0)) continue;
      if (flakyOnly && !c.s) continue;
      if (!matchesVerdict(c, m, verdict)) continue;
      if (!matchesFlip(c, m, flip)) continue;
      if (query && haystackOf(i).indexOf(query) < 0) continue;
      list.push(i);
    }
    var how = els.sort.value;
    if (how === "worst" || how === "best") {
      var keys = new Map();
      for (var j = 0; j < list.length; j++) keys.set(list[j], sortKey(cases[list[j]], m));
      var sign = how === "worst" ? 1 : -1;
      list.sort(function (a, b) {
        var ka = keys.get(a), kb = keys.get(b);
        if (ka === null && kb === null) return a - b;
        if (ka === null) return 1;
        if (kb === null) return -1;
        return sign * (ka - kb) || a - b;
      });
    } else if (how === "id") {
      list.sort(function (a, b) {
        return cases[a].id < cases[b].id ? -1 : cases[a].id > cases[b].id ? 1 : 0;
      });
    }
    state.list = list;
    state.shown = PAGE;
    render();
  }

  // ------------------------------------------------------------ rendering rows

  function metricCell(c, i, selected) {
    var td = el("td", "n metric-cell" + (selected ? " selected" : ""));
    if (compare) {
      var status = compareStatus(c, i);
      td.classList.add("st-" + status);
      var b = c.b[i], v = c.c[i];
      td.appendChild(el("span", "vals", fmt(b) + " → " + fmt(v)));
      var d = delta(c, i);
      if (d !== null && Math.abs(d) > EPS) td.appendChild(el("span", "d", fmtSigned(d)));
      var f = flipOf(c, i);
      if (f) td.appendChild(el("span", "flip", f < 0 ? "▼ to fail" : "▲ to pass"));
    } else {
      var s = singleStatus(c, i);
      td.classList.add("st-" + s);
      td.textContent = fmt(c.c[i]);
    }
    if (c.s && c.s[i]) td.appendChild(el("span", "sd", "sd " + fmt(c.s[i])));
    return td;
  }

  function caseRow(index, m) {
    var c = cases[index];
    var tr = el("tr", "case-row");
    tr.dataset.index = String(index);
    var open = state.expanded.has(index);
    var toggle = el("td", "toggle-col");
    var button = el("button", "toggle", open ? "▾" : "▸");
    button.type = "button";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    button.setAttribute("aria-label", "Show details of case " + c.id);
    toggle.appendChild(button);
    tr.appendChild(toggle);
    tr.appendChild(el("td", "case-id", c.id));
    var tags = el("td", "tags");
    if (c.t) {
      for (var k = 0; k < c.t.length; k++) tags.appendChild(el("span", "tag", data.tags[c.t[k]]));
    }
    tr.appendChild(tags);
    for (var i = 0; i < metrics.length; i++) tr.appendChild(metricCell(c, i, i === m));
    var flags = el("td", "flags");
    if (c.fl) for (var f = 0; f < c.fl.length; f++) flags.appendChild(el("span", "tag flag-" + c.fl[f], c.fl[f]));
    if (c.err) flags.appendChild(el("span", "tag flag-error", "SUT error"));
    if (c.s) flags.appendChild(el("span", "tag flag-flaky", "flaky"));
    tr.appendChild(flags);
    return tr;
  }

  function textBlock(title, text, className) {
    var box = el("div", "block " + (className || ""));
    box.appendChild(el("h4", null, title));
    box.appendChild(el("pre", "text", text === null || text === undefined ? "–" : text));
    return box;
  }

  function diffBlock(title, segments, keep, mark, error) {
    var box = el("div", "block output");
    box.appendChild(el("h4", null, title));
    var pre = el("pre", "text");
    for (var s = 0; s < segments.length; s++) {
      var op = segments[s][0];
      if (op !== 0 && op !== keep) continue;
      if (op === 0) pre.appendChild(document.createTextNode(segments[s][1]));
      else pre.appendChild(el(mark, null, segments[s][1]));
    }
    box.appendChild(pre);
    if (error) box.appendChild(el("p", "error", "error: " + error));
    return box;
  }

  function detailPanel(c) {
    var x = c.x || {};
    var panel = el("div", "detail");
    var meta = [];
    if (c.g) meta.push("group " + c.g);
    if (c.t) meta.push("tags: " + c.t.map(function (t) { return data.tags[t]; }).join(", "));
    if (meta.length) panel.appendChild(el("p", "muted", meta.join(" · ")));

    var top = el("div", "pair");
    if (x["in"] !== undefined) top.appendChild(textBlock("Input", x["in"]));
    else if (x.p !== undefined) top.appendChild(textBlock("Prompt", x.p));
    else top.appendChild(textBlock("Input", "(not available: render with the golden set)"));
    top.appendChild(textBlock("Expected", x.exp === undefined ? "(none)" : x.exp));
    panel.appendChild(top);

    if (x.ctx && x.ctx.length) {
      var det = el("details", "contexts");
      det.appendChild(el("summary", null, "Contexts (" + x.ctx.length + ")"));
      var ol = el("ol");
      for (var k = 0; k < x.ctx.length; k++) {
        var li = el("li");
        li.appendChild(el("pre", "text", data.contexts[x.ctx[k]]));
        ol.appendChild(li);
      }
      det.appendChild(ol);
      panel.appendChild(det);
    }

    var outs = el("div", "pair");
    var baseText = x.same ? x.oc : x.ob;
    if (compare && typeof baseText === "string" && typeof x.oc === "string") {
      var segments = wordDiff(baseText, x.oc);
      outs.appendChild(diffBlock("Baseline output", segments, -1, "del", x.eb));
      outs.appendChild(diffBlock("Candidate output" + (x.same ? " (identical)" : ""), segments, 1, "ins", x.ec));
    } else {
      if (compare) outs.appendChild(outputBlock("Baseline output", x.ob, x.eb));
      outs.appendChild(outputBlock(compare ? "Candidate output" : "Output", x.oc, x.ec));
    }
    panel.appendChild(outs);

    panel.appendChild(scoreTable(c, x));

    if (x.smp && x.smp.length) {
      var more = el("details", "samples");
      more.appendChild(el("summary", null, "Other samples of the candidate (" + x.smp.length + ")"));
      for (var s = 0; s < x.smp.length; s++) more.appendChild(el("pre", "text", x.smp[s]));
      panel.appendChild(more);
    }
    return panel;
  }

  function outputBlock(title, text, error) {
    var box = textBlock(title, text === undefined ? (error ? "" : "(no output)") : text, "output");
    if (error) box.appendChild(el("p", "error", "error: " + error));
    return box;
  }

  function scoreTable(c, x) {
    var notes = {};
    if (x.r) for (var k = 0; k < x.r.length; k++) notes[x.r[k][0]] = x.r[k];
    var table = el("table", "scores");
    var head = el("tr");
    var cols = compare
      ? ["Metric", "Baseline", "Candidate", "Δ", "Flip", "Baseline rationale", "Candidate rationale"]
      : ["Metric", "Score", "Rationale"];
    if (c.s) cols.splice(compare ? 5 : 2, 0, "Sample sd");
    for (var h = 0; h < cols.length; h++) head.appendChild(el("th", null, cols[h]));
    var thead = el("thead");
    thead.appendChild(head);
    table.appendChild(thead);
    var body = el("tbody");
    for (var i = 0; i < metrics.length; i++) {
      var tr = el("tr");
      var n = notes[i] || [i, null, null, null, null];
      tr.appendChild(el("th", null, metrics[i].name));
      if (compare) {
        tr.appendChild(el("td", "n", fmt(c.b[i])));
        tr.appendChild(el("td", "n", fmt(c.c[i])));
        tr.appendChild(el("td", "n st-" + compareStatus(c, i), fmtSigned(delta(c, i))));
        var f = flipOf(c, i);
        tr.appendChild(el("td", null, f < 0 ? "to fail" : f > 0 ? "to pass" : ""));
        if (c.s) tr.appendChild(el("td", "n", fmt(c.s[i])));
        tr.appendChild(noteCell(n[1], n[3]));
        tr.appendChild(noteCell(n[2], n[4]));
      } else {
        tr.appendChild(el("td", "n st-" + singleStatus(c, i), fmt(c.c[i])));
        if (c.s) tr.appendChild(el("td", "n", fmt(c.s[i])));
        tr.appendChild(noteCell(n[2], n[4]));
      }
      body.appendChild(tr);
    }
    table.appendChild(body);
    return table;
  }

  function noteCell(rationale, unscored) {
    var td = el("td", "rationale");
    if (unscored) td.appendChild(el("span", "error", "unscored: " + unscored));
    if (rationale) td.appendChild(el("span", null, rationale));
    return td;
  }

  function detailRow(index) {
    var tr = el("tr", "detail-row");
    var td = el("td");
    td.colSpan = 4 + metrics.length;
    td.appendChild(detailPanel(cases[index]));
    tr.appendChild(td);
    return tr;
  }

  function render() {
    var m = currentMetric();
    var list = state.list;
    var end = Math.min(state.shown, list.length);
    var frag = document.createDocumentFragment();
    for (var i = 0; i < end; i++) {
      frag.appendChild(caseRow(list[i], m));
      if (state.expanded.has(list[i])) frag.appendChild(detailRow(list[i]));
    }
    els.rows.replaceChildren(frag);
    var heads = els.table.querySelectorAll("th.metric-col");
    for (var h = 0; h < heads.length; h++) {
      heads[h].classList.toggle("selected", parseInt(heads[h].dataset.metric, 10) === m);
    }
    updateCount(end);
  }

  function updateCount(shown) {
    var list = state.list;
    els.count.textContent =
      "Showing " + shown.toLocaleString("en") + " of " + list.length.toLocaleString("en") +
      " matching cases (" + cases.length.toLocaleString("en") + " in total)";
    els.count.dataset.matching = String(list.length);
    els.count.dataset.shown = String(shown);
    var left = list.length - shown;
    els.more.hidden = left <= 0;
    els.more.textContent = "Show " + Math.min(PAGE, left).toLocaleString("en") + " more (" +
      left.toLocaleString("en") + " not shown)";
  }

  function showMore() {
    var start = state.shown;
    state.shown = Math.min(state.shown + PAGE, state.list.length);
    var m = currentMetric();
    var frag = document.createDocumentFragment();
    for (var i = start; i < state.shown; i++) {
      frag.appendChild(caseRow(state.list[i], m));
      if (state.expanded.has(state.list[i])) frag.appendChild(detailRow(state.list[i]));
    }
    els.rows.appendChild(frag);
    updateCount(state.shown);
  }

  function toggleRow(tr) {
    var index = parseInt(tr.dataset.index, 10);
    var button = tr.querySelector("button.toggle");
    if (state.expanded.has(index)) {
      state.expanded.delete(index);
      var next = tr.nextElementSibling;
      if (next && next.classList.contains("detail-row")) next.remove();
      button.textContent = "▸";
      button.setAttribute("aria-expanded", "false");
      tr.classList.remove("open");
    } else {
      state.expanded.add(index);
      tr.after(detailRow(index));
      button.textContent = "▾";
      button.setAttribute("aria-expanded", "true");
      tr.classList.add("open");
    }
  }

  // ------------------------------------------------------------ events

  var timer = null;
  els.search.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(applyFilters, 120);
  });
  [els.metric, els.verdict, els.flip, els.tag, els.flaky, els.sort].forEach(function (control) {
    if (control) control.addEventListener("change", applyFilters);
  });
  els.more.addEventListener("click", showMore);
  els.rows.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) return;
    if (target.closest(".detail-row")) return;
    var tr = target.closest("tr.case-row");
    if (tr) toggleRow(tr);
  });
  els.table.querySelector("thead").addEventListener("click", function (event) {
    var th = event.target instanceof Element ? event.target.closest("th.metric-col") : null;
    if (!th || !els.metric) return;
    els.metric.value = th.dataset.metric;
    applyFilters();
  });
  document.querySelectorAll("a.case-link").forEach(function (link) {
    link.addEventListener("click", function () {
      els.search.value = link.dataset["case"];
      els.verdict.value = "all";
      if (els.flip) els.flip.value = "all";
      els.tag.value = "all";
      applyFilters();
    });
  });
  if ("IntersectionObserver" in window) {
    new IntersectionObserver(function (entries) {
      if (entries[0].isIntersecting && !els.more.hidden) showMore();
    }, { rootMargin: "400px" }).observe(els.more);
  }

  applyFilters();
  performance.mark("evalkit-ready");
  window.__evalkitReady = true;
  window.__evalkitReadyAt = performance.now();
  // "Settled": the first frame with the table has been painted and the thread is free.
  requestAnimationFrame(function () {
    setTimeout(function () { window.__evalkitSettledAt = performance.now(); }, 0);
  });
  document.documentElement.dataset.ready = "1";
})();
