/* slipway web UI: metric charts (uPlot), the runs table's selection, dialogs. No build step. */
(function () {
  "use strict";
  var PALETTE = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#0598bc", "#bf3989", "#6e7781"];

  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  /* TensorBoard-style exponential moving average, debiased so the curve starts on the data. */
  function smooth(values, weight) {
    if (!weight) return values;
    var out = new Array(values.length), last = 0, n = 0;
    for (var i = 0; i < values.length; i++) {
      var v = values[i];
      if (v == null || !isFinite(v)) { out[i] = v; continue; }
      last = last * weight + (1 - weight) * v; n++;
      out[i] = last / (1 - Math.pow(weight, n));
    }
    return out;
  }

  function panelState(panel) {
    var q = function (sel) { return panel.querySelector(sel); };
    return {
      keys: Array.prototype.map.call(panel.querySelectorAll("input[name=metric]:checked"), function (i) { return i.value; }),
      log: q("input[name=logscale]") ? q("input[name=logscale]").checked : false,
      smooth: q("input[name=smooth]") ? parseFloat(q("input[name=smooth]").value) : 0,
      x: q("select[name=xaxis]") ? q("select[name=xaxis]").value : "step"
    };
  }

  function draw(panel, series, state) {
    var target = panel.querySelector(".chart");
    var note = panel.querySelector(".chart-note");
    if (panel._plot) { panel._plot.destroy(); panel._plot = null; }
    target.innerHTML = "";
    var usable = series.filter(function (s) { return s.step.length > 0; });
    if (!usable.length) {
      target.innerHTML = '<p class="muted">Choose a metric with logged values.</p>';
      return;
    }
    var useTime = state.x === "time";
    var parts = usable.map(function (s) {
      var xs = useTime ? s.time.map(function (t) { return t / 1000; }) : s.step;
      var ys = smooth(s.value, state.smooth).map(function (v) {
        return v == null || !isFinite(v) || (state.log && v <= 0) ? null : v;
      });
      return [xs, ys];
    });
    var data = parts.length === 1 ? parts[0] : uPlot.join(parts);
    var fg = css("--fg-soft"), grid = css("--border");
    var axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    var opts = {
      width: Math.max(280, target.clientWidth || 600),
      height: 320,
      scales: { x: { time: useTime }, y: { distr: state.log ? 3 : 1 } },
      axes: [Object.assign({}, axis), Object.assign({ size: 64 }, axis)],
      cursor: { drag: { x: true, y: false }, focus: { prox: 24 } },
      focus: { alpha: 0.35 },
      legend: { live: true },
      series: [{ label: useTime ? "time" : "step" }].concat(usable.map(function (s, i) {
        return { label: s.label || s.key, stroke: PALETTE[i % PALETTE.length], width: 1.6, spanGaps: true,
                 points: { show: s.step.length < 60 } };
      }))
    };
    panel._plot = new uPlot(opts, data, target);
    if (note) {
      note.textContent = "Drag across the chart to zoom, double-click to reset. " +
        "Long histories are drawn from the lowest and highest value of each step bucket.";
    }
  }

  function fetchJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error(r.status + " " + r.statusText);
      return r.json();
    });
  }

  function points(panel) {
    return Math.min(4000, Math.max(400, Math.round((panel.clientWidth || 800) * 2)));
  }

  /* A run's chart: several metrics of one run. */
  function loadRunChart(panel) {
    var state = panelState(panel);
    var params = new URLSearchParams();
    state.keys.forEach(function (k) { params.append("key", k); });
    params.set("points", points(panel));
    panel.setAttribute("aria-busy", "true");
    fetchJSON(panel.dataset.url + "?" + params).then(function (body) {
      panel._series = body.series;
      draw(panel, body.series, state);
    }).catch(function (e) {
      panel.querySelector(".chart").textContent = "Could not load the metrics: " + e.message;
    }).finally(function () { panel.removeAttribute("aria-busy"); });
  }

  /* The compare page's chart: one metric of several runs, overlaid. */
  function loadCompareChart(panel) {
    var state = panelState(panel);
    var key = panel.querySelector("select[name=curve]").value;
    var runs = JSON.parse(panel.dataset.runs);
    panel.setAttribute("aria-busy", "true");
    Promise.all(runs.map(function (r) {
      var params = new URLSearchParams({ key: key, points: points(panel) });
      return fetchJSON("/runs/" + encodeURIComponent(r.id) + "/metrics.json?" + params).then(function (body) {
        var s = body.series[0];
        s.label = r.label;
        return s;
      });
    })).then(function (series) {
      panel._series = series;
      draw(panel, series, state);
    }).catch(function (e) {
      panel.querySelector(".chart").textContent = "Could not load the metrics: " + e.message;
    }).finally(function () { panel.removeAttribute("aria-busy"); });
  }

  function setUpChart(panel) {
    if (panel._ready) return;
    panel._ready = true;
    var load = panel.dataset.runs ? loadCompareChart : loadRunChart;
    panel.addEventListener("change", function (ev) {
      var name = ev.target.name;
      if (name === "metric" || name === "curve" || name === "xaxis") { load(panel); }
      else if (panel._series) { draw(panel, panel._series, panelState(panel)); }
    });
    panel.addEventListener("input", function (ev) {
      if (ev.target.name === "smooth" && panel._series) {
        var out = panel.querySelector("output[for=" + ev.target.id + "]");
        if (out) out.textContent = ev.target.value;
        draw(panel, panel._series, panelState(panel));
      }
    });
    load(panel);
  }

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      document.querySelectorAll(".chart-panel").forEach(function (panel) {
        if (panel._plot) {
          var target = panel.querySelector(".chart");
          panel._plot.setSize({ width: Math.max(280, target.clientWidth), height: 320 });
        }
      });
    }, 150);
  });

  /* Tables with checkboxes (runs, experiments): select all, say how many are selected, and
     enable the buttons that need a selection. */
  function setUpSelection(root) {
    root.querySelectorAll("form.select-form").forEach(function (form) {
      if (form._ready) return;
      form._ready = true;
      var all = form.querySelector("input[data-select-all]");
      var count = form.querySelector("[data-selected-count]");
      var pick = "tbody input[type=checkbox]";
      function boxes() { return form.querySelectorAll(pick); }
      function update() {
        var n = form.querySelectorAll(pick + ":checked").length;
        if (count) count.textContent = n ? n + " selected" : "";
        form.querySelectorAll("[data-needs-selection]").forEach(function (b) {
          b.disabled = n < parseInt(b.dataset.needsSelection, 10);
        });
      }
      if (all) {
        all.addEventListener("change", function () {
          boxes().forEach(function (b) { b.checked = all.checked; });
          update();
        });
      }
      form.addEventListener("change", update);
      form.addEventListener("submit", function (ev) {
        var button = ev.submitter;
        if (button && button.dataset.confirm && !window.confirm(button.dataset.confirm)) ev.preventDefault();
      });
      update();
    });
  }

  function setUp(root) {
    root.querySelectorAll(".chart-panel").forEach(setUpChart);
    setUpSelection(root);
    root.querySelectorAll("dialog[data-open]").forEach(function (d) {
      d.removeAttribute("data-open");
      d.addEventListener("close", function () { d.remove(); });  /* Esc, Cancel or ✕ */
      d.showModal();
      var first = d.querySelector("[autofocus]:not([disabled])") || d.querySelector("button");
      if (first) first.focus();
    });
  }

  document.addEventListener("DOMContentLoaded", function () { setUp(document); });
  document.addEventListener("htmx:afterSettle", function () { setUp(document); });  /* idempotent */
  document.addEventListener("click", function (ev) {
    var close = ev.target.closest("[data-close-dialog]");
    if (close) { var d = close.closest("dialog"); if (d) d.close(); }
  });
})();
