// evalkit trend report: nights tables and case lists, built from the embedded JSON.
// Data from models, datasets and configs is only ever put into the page as text
// (textContent): never through innerHTML.
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("evalkit-data").textContent);
  var SAFE_LINK = /^(?!\/)(?!.*\.\.)[A-Za-z0-9_.\/-]+$/;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function list(items) {
    var ul = el("ul");
    items.forEach(function (item) { ul.appendChild(el("li", null, item)); });
    return ul;
  }

  function nightRow(night) {
    var tr = el("tr", "night-row");
    tr.appendChild(el("td", "mono", night.at.slice(0, 16).replace("T", " ")));
    tr.appendChild(el("td", "status-" + night.status, night.status));
    tr.appendChild(el("td", null, night.run_id || "–"));
    var cell = el("td");
    if (night.report && SAFE_LINK.test(night.report)) {
      var link = el("a", "report-link", "regression report");
      link.setAttribute("href", night.report);
      cell.appendChild(link);
    } else {
      cell.textContent = "–";
    }
    tr.appendChild(cell);
    var notes = el("td", "notes");
    if (night.reason) notes.appendChild(el("span", "reason", night.reason));
    if (night.alerts.length) notes.appendChild(list(night.alerts));
    if (night.warnings.length) notes.appendChild(list(night.warnings.map(function (w) { return "warning: " + w; })));
    tr.appendChild(notes);
    return tr;
  }

  function caseTable(title, items, sinceColumn) {
    var wrap = el("div", "case-list");
    wrap.appendChild(el("h4", null, title + " (" + items.length + ")"));
    if (!items.length) {
      wrap.appendChild(el("p", "hint", "none"));
      return wrap;
    }
    var table = el("table", "metrics compact");
    var head = el("tr");
    ["Case", "Metric", "Nights (oldest first)", "Flips", "Now"].concat(sinceColumn ? ["Since night"] : [])
      .forEach(function (h) { head.appendChild(el("th", null, h)); });
    var thead = el("thead");
    thead.appendChild(head);
    table.appendChild(thead);
    var body = el("tbody");
    items.forEach(function (c) {
      var tr = el("tr");
      tr.appendChild(el("td", "case-id", c.case_id));
      tr.appendChild(el("td", null, c.metric));
      tr.appendChild(el("td", "pattern", c.pattern));
      tr.appendChild(el("td", "n", c.flips));
      tr.appendChild(el("td", c.now_failing ? "st-fail" : "st-pass", c.now_failing ? "failing" : "passing"));
      if (sinceColumn) tr.appendChild(el("td", "mono", c.since_night_id || "–"));
      body.appendChild(tr);
    });
    table.appendChild(body);
    wrap.appendChild(table);
    return wrap;
  }

  data.suites.forEach(function (suite, index) {
    var table = document.querySelector('table.nights[data-suite-index="' + index + '"] tbody');
    if (table) suite.nights.forEach(function (night) { table.appendChild(nightRow(night)); });
    var cases = document.querySelector('.case-lists[data-suite-index="' + index + '"]');
    if (cases) {
      cases.appendChild(caseTable("Changed once and stayed changed", suite.changed, true));
      cases.appendChild(caseTable("Flaky: keeps flipping", suite.flaky, false));
    }
  });

  performance.mark("evalkit-ready");
  window.__evalkitReady = true;
  window.__evalkitReadyAt = performance.now();
  // "Settled": the first frame with the tables has been painted and the thread is free
  // (what tests/support/browser.py's wait_ready waits for, as with the regression report).
  requestAnimationFrame(function () {
    setTimeout(function () { window.__evalkitSettledAt = performance.now(); }, 0);
  });
  document.documentElement.dataset.ready = "1";
})();
