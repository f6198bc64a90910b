// mloop ui: draw the Plotly figures a page embeds, refresh a running run's DAG, and refresh the
// server-rendered fragments marked data-refresh (the deployments page's running services).
(function () {
  "use strict";
  function drawPlots() {
    if (typeof Plotly === "undefined") return;
    document.querySelectorAll("script.figure").forEach(function (node) {
      var fig = JSON.parse(node.textContent);
      var target = document.getElementById(node.dataset.target);
      if (target) Plotly.newPlot(target, fig.data, fig.layout, {displayModeBar: false, responsive: true});
    });
  }
  function pollRun() {
    var dag = document.querySelector("[data-poll]");
    if (!dag) return;
    var url = dag.dataset.poll;
    function tick() {
      fetch(url, {headers: {Accept: "application/json"}}).then(function (r) { return r.json(); }).then(function (s) {
        Object.keys(s.steps).forEach(function (name) {
          var step = s.steps[name];
          document.querySelectorAll('[data-step="' + CSS.escape(name) + '"]').forEach(function (el) {
            if (el.tagName === "g") el.setAttribute("class", "node " + step.state);
            else { el.className = "badge " + step.state; el.textContent = step.state; }
          });
        });
        var badge = document.getElementById("run-state");
        if (badge) { badge.className = "badge " + s.state; badge.textContent = s.state; }
        if (s.state === "running") setTimeout(tick, 2000); else if (dag.dataset.reload !== "no") location.reload();
      }).catch(function () { setTimeout(tick, 5000); });
    }
    setTimeout(tick, 2000);
  }
  function compareBoxes() {
    var form = document.getElementById("compare-form");
    if (!form) return;
    var button = form.querySelector("button");
    function update() {
      var n = form.querySelectorAll("input[name=run]:checked").length;
      button.disabled = n < 2; button.textContent = "Compare " + (n || "") + " runs";
    }
    form.addEventListener("change", update); update();
  }
  function refreshFragments() {
    document.querySelectorAll("[data-refresh]").forEach(function (box) {
      var every = parseInt(box.dataset.every, 10) || 5000;
      function tick() {
        if (document.hidden) { setTimeout(tick, every); return; }
        fetch(box.dataset.refresh, {headers: {Accept: "text/html"}}).then(function (r) {
          return r.ok ? r.text() : null;
        }).then(function (html) {
          if (html !== null) { box.innerHTML = html; box.dataset.refreshed = String(Date.now()); }
          setTimeout(tick, every);
        }).catch(function () { setTimeout(tick, every * 2); });
      }
      setTimeout(tick, every);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { drawPlots(); pollRun(); compareBoxes(); refreshFragments(); });
})();
