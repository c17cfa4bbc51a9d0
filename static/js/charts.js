// Draws every Plotly figure on the page: <div data-figure="ID"> takes the JSON in
// <script id="ID" type="application/json"> (written by Django's json_script).
(function () {
  "use strict";
  document.querySelectorAll("[data-figure]").forEach(function (element) {
    var source = document.getElementById(element.dataset.figure);
    if (!source) { return; }
    var figure = JSON.parse(source.textContent);
    window.Plotly.newPlot(element, figure.data, figure.layout, {
      responsive: true, displaylogo: false, modeBarButtonsToRemove: ["select2d", "lasso2d"],
    });
  });
})();
