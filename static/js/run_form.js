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
