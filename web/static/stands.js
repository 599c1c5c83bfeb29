// Stand page: every tap gets its entry id here, before sending, and waits in a queue kept in
// localStorage until the server has it; the queue is sent in order whenever the network is back.
// Nothing leaves the queue unless the server took it or refused it as invalid (422): an expired
// CSRF token is renewed and the entry sent again; an expired session, a closed stand or a
// server in trouble keep the queue, with the problem in view, until it is sent.
(function () {
  "use strict";
  var root = document.getElementById("stand");
  if (!root) { return; }
  var api = root.dataset.api;
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var csrfUrl = root.dataset.csrfUrl;
  var loginUrl = root.dataset.login;
  var queueKey = "fondo-queue-" + root.dataset.stand;
  var tapsKey = "fondo-taps-" + root.dataset.stand;
  var it = document.documentElement.lang !== "en";
  var texts = document.getElementById("stand-texts").dataset;
  var serverTallied = parseInt(document.getElementById("tallied").textContent, 10) || 0;
  var sending = false;

  function load(key) {
    try { return JSON.parse(localStorage.getItem(key) || "[]"); } catch (e) { return []; }
  }
  function keep(key, value) { localStorage.setItem(key, JSON.stringify(value)); }

  function newId() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // The same shape as the server's Babel formatting: "€ 1.234,50" (it), "€1,234.50" (en).
  function euro(cents) {
    var number = new Intl.NumberFormat(it ? "it-IT" : "en-GB", {
      minimumFractionDigits: 2, maximumFractionDigits: 2, useGrouping: true
    }).format(cents / 100);
    return it ? "€ " + number : "€" + number;
  }

  function pendingTaps(queue) {
    return queue.reduce(function (n, item) {
      return n + (item.path === "/tallies" ? 1 : item.path === "/tallies/undo" ? -1 : 0);
    }, 0);
  }

  function render(state) {
    if (state) {
      serverTallied = state.tallied;
      document.getElementById("named-count").textContent = state.named;
      document.getElementById("named-cents").textContent = euro(state.named_cents);
      document.getElementById("counts").innerHTML = "";
      state.counts.forEach(function (c) {
        var li = document.createElement("li");
        li.textContent = c.counter + ": " + euro(c.total_cents);
        document.getElementById("counts").appendChild(li);
      });
      if (state.status !== "open") {
        document.getElementById("plus-one").disabled = true;
        document.getElementById("close").disabled = true;
      }
    }
    var queue = load(queueKey);
    document.getElementById("tallied").textContent = serverTallied + pendingTaps(queue);
    document.getElementById("pending").textContent = queue.length;
  }

  // A message of the page's catalog (#stand-texts), its {name}s filled in.
  function phrase(name, values) {
    return texts[name].replace(/\{(\w+)\}/g, function (all, key) { return String(values[key]); });
  }

  function network(online) {
    var el = document.getElementById("network");
    el.classList.toggle("offline", !online);
    el.textContent = online ? phrase("online") : phrase("offline");
  }

  function post(path, body) {
    return fetch(api + path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf },
      body: body === undefined ? undefined : JSON.stringify(body)
    });
  }

  // A fresh CSRF token; null when it came, otherwise the answer that refused it (401: the
  // session has expired and only signing in again helps).
  async function renewCsrf() {
    var response = await fetch(csrfUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } });
    if (!response.ok) { return response; }
    csrf = (await response.json()).csrf_token;
    return null;
  }

  // POST; a 400 is the CSRF check refusing this page's token (invalid input is 422), so the
  // token is renewed and the request sent once more.
  async function send(path, body) {
    var response = await post(path, body);
    if (response.status !== 400) { return response; }
    return (await renewCsrf()) || post(path, body);
  }

  function showProblem(text, signIn) {
    var el = document.getElementById("queue-problem");
    el.textContent = text;
    if (signIn) {
      var link = document.createElement("a");
      link.href = loginUrl;
      link.textContent = phrase("signInAgain");
      el.appendChild(document.createTextNode(" "));
      el.appendChild(link);
    }
    el.hidden = !text;
  }

  function kept(response, message) {
    var waiting = load(queueKey).length;
    if (response.status === 401) {
      return phrase("sessionExpired", { waiting: waiting });
    }
    return phrase("notSent", { status: response.status, problem: message });
  }

  function say(id, text, isError) {
    var el = document.getElementById(id);
    el.textContent = text;
    el.classList.toggle("error", !!isError);
  }

  async function problem(response) {
    try {
      var body = await response.json();
      var fields = body.errors && (body.errors.json || body.errors);
      return body.message || (fields ? JSON.stringify(fields) : response.statusText);
    } catch (e) { return response.statusText; }
  }

  // The first entry leaves the queue; a tap refused as invalid takes its waiting undo along.
  function dequeue(item, refused) {
    var queue = load(queueKey);
    queue.shift();
    if (refused && item.path === "/tallies") {
      var id = item.body.entry_id;
      queue = queue.filter(function (other) {
        return !(other.path === "/tallies/undo" && other.body.entry_id === id);
      });
      keep(tapsKey, load(tapsKey).filter(function (tap) { return tap !== id; }));
    }
    keep(queueKey, queue);
  }

  // Send the queue in order; stop at the first failure and try again later.
  async function flush() {
    if (sending) { return; }
    sending = true;
    try {
      for (var queue = load(queueKey); queue.length; queue = load(queueKey)) {
        var item = queue[0];
        var response;
        try { response = await send(item.path, item.body); } catch (e) { network(false); return; }
        network(true);
        if (response.ok) {
          dequeue(item, false);
          showProblem("");
          render(await response.json());
        } else if (response.status === 422) {
          dequeue(item, true);
          say(item.path === "/named-gifts" ? "named-message" : "close-message",
              phrase("notRecorded", { problem: await problem(response) }), true);
        } else {
          showProblem(kept(response, await problem(response)), response.status === 401);
          return;
        }
      }
    } finally {
      sending = false;
      render();
    }
  }

  function enqueue(path, body) {
    var queue = load(queueKey);
    queue.push({ path: path, body: body });
    keep(queueKey, queue);
    render();
    flush();
  }

  function tap(amount) {
    var id = newId();
    var taps = load(tapsKey);
    taps.push(id);
    keep(tapsKey, taps);
    enqueue("/tallies", amount ? { entry_id: id, amount_cents: amount } : { entry_id: id });
  }

  document.getElementById("plus-one").addEventListener("click", function () { tap(null); });
  Array.prototype.forEach.call(document.querySelectorAll(".chip"), function (chip) {
    chip.addEventListener("click", function () { tap(parseInt(chip.dataset.amount, 10)); });
  });

  document.getElementById("undo").addEventListener("click", function () {
    var taps = load(tapsKey);
    var last = taps.pop();
    if (!last) { return; }
    keep(tapsKey, taps);
    var queue = load(queueKey);
    var waiting = queue.findIndex(function (item) {
      return item.path === "/tallies" && item.body.entry_id === last;
    });
    if (waiting >= 0 && !sending) {  // never sent: simply forget it
      queue.splice(waiting, 1);
      keep(queueKey, queue);
      render();
    } else {
      enqueue("/tallies/undo", { entry_id: last });
    }
  });

  function parseEuro(text) {
    var clean = String(text).replace(/[€\s]/g, "").replace(/\./g, "").replace(",", ".");
    var value = Math.round(parseFloat(clean) * 100);
    return isFinite(value) ? value : 0;
  }

  document.getElementById("named-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var form = event.target;
    var amount = parseEuro(form.amount.value);
    if (!form.first_name.value || !form.last_name.value || amount <= 0) {
      say("named-message", phrase("namedNeeded"), true);
      return;
    }
    if (!form.privacy_consent.checked) {
      say("named-message", phrase("consentNeeded"), true);
      return;
    }
    enqueue("/named-gifts", {
      entry_id: newId(), first_name: form.first_name.value, last_name: form.last_name.value,
      email: form.email.value, phone: form.phone.value, tax_code: form.tax_code.value,
      amount_cents: amount, privacy_consent: true, marketing_consent: form.marketing_consent.checked
    });
    form.reset();
    say("named-message", phrase("recorded"), false);
  });

  var countForm = document.getElementById("count-form");
  function countTotal() {
    return Array.prototype.reduce.call(countForm.querySelectorAll("[data-cents]"), function (sum, input) {
      return sum + parseInt(input.dataset.cents, 10) * (parseInt(input.value, 10) || 0);
    }, 0);
  }
  countForm.addEventListener("input", function () {
    document.getElementById("count-total").textContent = euro(countTotal());
  });
  countForm.addEventListener("submit", async function (event) {
    event.preventDefault();
    var denominations = {};
    countForm.querySelectorAll("[data-cents]").forEach(function (input) {
      var n = parseInt(input.value, 10) || 0;
      if (n) { denominations[input.dataset.cents] = n; }
    });
    try {
      var response = await send("/counts", { counter: countForm.counter.value, denominations: denominations });
      if (response.ok) {
        render(await response.json());
        countForm.reset();
        document.getElementById("count-total").textContent = euro(0);
        say("close-message", phrase("countRecorded"), false);
      } else {
        say("close-message", await problem(response), true);
        if (response.status === 401) { showProblem(kept(response, ""), true); }
      }
    } catch (e) {
      network(false);
      say("close-message", phrase("offlineRetry"), true);
    }
  });

  document.getElementById("close").addEventListener("click", async function () {
    await flush();
    if (load(queueKey).length) {
      say("close-message", phrase("tapsPending"), true);
      return;
    }
    try {
      var response = await send("/close");
      var body = await response.json();
      if (response.ok) {
        render(body);
        say("close-message", phrase("closedCounted", { amount: euro(body.closing.counted_cents) }), false);
      } else {
        if (body.state) { render(body.state); }
        say("close-message", body.message, true);
        if (response.status === 401) { showProblem(kept(response, ""), true); }
      }
    } catch (e) {
      network(false);
      say("close-message", phrase("offlineRetry"), true);
    }
  });

  window.addEventListener("online", function () { network(true); flush(); });
  window.addEventListener("offline", function () { network(false); });
  setInterval(flush, 3000);
  render();
  flush();
})();
