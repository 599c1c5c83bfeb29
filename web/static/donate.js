// Donation form: typing an amount in "Altro importo" chooses it, and choosing a preset clears
// what was typed, so the amount charged is always the one the donor sees selected. Without this
// script the server refuses a preset and a typed amount that disagree. The submit button and
// the fee estimate follow the amount as it changes; after a refused submit the first field in
// error takes the focus.
(function () {
  "use strict";
  var form = document.querySelector("form.donate");
  if (!form) { return; }
  var firstError = form.querySelector("[aria-invalid=true]");
  if (firstError) { firstError.focus(); }
  var typed = form.querySelector("input[name=other_amount]");
  var other = form.querySelector("input[name=amount][value=other]");
  var button = form.querySelector("button.give");
  var estimate = form.querySelector(".fee-estimate");
  var cover = form.querySelector("input[name=cover_fee]");
  if (!typed || !other || !button) { return; }

  function euro(cents) {
    var italian = button.getAttribute("data-locale") === "it";
    var whole = String(Math.floor(cents / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, italian ? "." : ",");
    var part = ("0" + (cents % 100)).slice(-2);
    return italian ? "€ " + whole + "," + part : "€" + whole + "." + part;
  }

  // As the server reads it: "15", "15,50", "15.50", "1.234,50".
  function typedCents(text) {
    var clean = text.replace(/[€\s]/g, "");
    if (clean.indexOf(",") >= 0) { clean = clean.replace(/\./g, "").replace(",", "."); }
    else if (/\.\d{3}$/.test(clean)) { clean = clean.replace(/\./g, ""); }
    if (!/^\d+(\.\d{1,2})?$/.test(clean)) { return null; }
    return Math.round(parseFloat(clean) * 100);
  }

  function chosenCents() {
    var checked = form.querySelector("input[name=amount]:checked");
    if (!checked) { return null; }
    return checked === other ? typedCents(typed.value) : parseInt(checked.value, 10);
  }

  function feeFor(cents) {
    var bp = parseInt(estimate.getAttribute("data-bp"), 10);
    var fixed = parseInt(estimate.getAttribute("data-fixed"), 10);
    return Math.ceil((cents + fixed) * 10000 / (10000 - bp)) - cents;
  }

  function refresh() {
    var cents = chosenCents();
    var monthly = form.querySelector("input[name=frequency][value=monthly]");
    var label = button.getAttribute(monthly && monthly.checked ? "data-monthly" : "data-once");
    if (cents === null || cents <= 0) {
      button.textContent = button.getAttribute("data-plain");
      if (estimate) { estimate.textContent = "—"; }
      return;
    }
    var fee = estimate ? feeFor(cents) : 0;
    if (estimate) { estimate.textContent = euro(fee); }
    button.textContent = label.replace("{amount}", euro(cents + (cover && cover.checked ? fee : 0)));
  }

  typed.addEventListener("input", function () {
    if (typed.value.trim()) { other.checked = true; }
    refresh();
  });
  Array.prototype.forEach.call(form.querySelectorAll("input[name=amount]"), function (preset) {
    preset.addEventListener("change", function () {
      if (preset !== other && preset.checked) { typed.value = ""; }
      refresh();
    });
  });
  form.addEventListener("change", refresh);
  refresh();
})();
