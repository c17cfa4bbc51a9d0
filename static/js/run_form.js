// New-run form: show only the options that apply to the chosen algorithm
// (fields carry data-algorithms="kmeans gmm ..."; fields without it always apply).
(function () {
  "use strict";
  var select = document.querySelector("select[name=algorithm]");
  if (!select) { return; }
  function update() {
    document.querySelectorAll("[data-algorithms]").forEach(function (field) {
      var applies = field.dataset.algorithms.split(" ").indexOf(select.value) >= 0;
      field.hidden = !applies;
    });
  }
  select.addEventListener("change", update);
  update();
})();

// Warn when scaling is off and the chosen number features are in different units (days,
// currency, years): unscaled, the one with the widest range decides the segments alone.
(function () {
  "use strict";
  var scaling = document.querySelector("select[name=scaling]");
  var warning = document.getElementById("unscaled-warning");
  if (!scaling || !warning) { return; }
  var boxes = document.querySelectorAll("input[name=features]");
  function update() {
    var units = [];
    boxes.forEach(function (box) {
      var unit = box.closest("[data-unit]");
      if (box.checked && unit && units.indexOf(unit.dataset.unit) < 0) { units.push(unit.dataset.unit); }
    });
    warning.hidden = !(scaling.value === "none" && units.length > 1);
    warning.querySelector("[data-units]").textContent = units.join(", ");
  }
  scaling.addEventListener("change", update);
  boxes.forEach(function (box) { box.addEventListener("change", update); });
  update();
})();
