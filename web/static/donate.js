// Donation form: typing an amount in "Altro importo" chooses it, and choosing a preset clears
// what was typed, so the amount charged is always the one the donor sees selected. Without this
// script the server refuses a preset and a typed amount that disagree.
(function () {
  "use strict";
  var typed = document.querySelector("input[name=other_amount]");
  var other = document.querySelector("input[name=amount][value=other]");
  if (!typed || !other) { return; }
  typed.addEventListener("input", function () {
    if (typed.value.trim()) { other.checked = true; }
  });
  Array.prototype.forEach.call(document.querySelectorAll("input[name=amount]"), function (preset) {
    preset.addEventListener("change", function () {
      if (preset !== other && preset.checked) { typed.value = ""; }
    });
  });
})();
