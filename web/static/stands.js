// Stand page: every tap, named giver and cash count gets its entry id here, before sending,
// and waits in a queue kept in localStorage (it survives reloads and closed tabs) until the
// server has it; the queue is sent in order whenever the network is back. An entry reads
// "in coda" until the server confirms it, "registrato" only then. Nothing leaves the queue
// unless the server took it or refused it: a refused named giver comes back into the form
// with the reasons beside its fields; an expired CSRF token is renewed and the entry sent
// again; an expired session, a closed stand or a server in trouble keep taps in the queue,
// with the problem in view. A service worker keeps the page itself for a reload offline.
// The phone is often shared between shifts, so every entry carries who made it ("by"): the
// page lists only its own volunteer's named givers and taps, sends another volunteer's taps
// and named givers (the stand's, whoever sends them) without showing them, and leaves their
// cash count alone until they sign in again (a count is its counter's own word). Signing out
// (signout.js) sends or, once the volunteer agrees, deletes their entries and wipes the rest.
(function () {
  "use strict";
  var root = document.getElementById("stand");
  if (!root) { return; }
  var api = root.dataset.api;
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var csrfUrl = root.dataset.csrfUrl;
  var loginUrl = root.dataset.login;
  var me = (root.dataset.me || "").toLowerCase();
  var queueKey = "fondo-queue-" + root.dataset.stand;
  var tapsKey = "fondo-taps-" + root.dataset.stand;
  var logKey = "fondo-log-" + root.dataset.stand;
  var stateKey = "fondo-state-" + root.dataset.stand;
  var texts = JSON.parse(document.getElementById("stand-texts").textContent);
  var it = document.documentElement.lang !== "en";
  var sending = false;
  var $ = function (id) { return document.getElementById(id); };

  function load(key, fallback) {
    try {
      var value = JSON.parse(localStorage.getItem(key));
      return value === null ? (fallback === undefined ? [] : fallback) : value;
    } catch (e) { return fallback === undefined ? [] : fallback; }
  }
  // Once signing out has wiped the phone (signout.js), an answer still on its way writes nothing.
  var leaving = false;
  document.addEventListener("fondo:signing-out", function () { leaving = true; });
  function keep(key, value) { if (!leaving) { localStorage.setItem(key, JSON.stringify(value)); } }

  // Entries from before they carried their author are taken as the signed-in volunteer's.
  function mine(entry) { return (entry.by || me) === me; }
  // What this page may send: everything but another volunteer's cash count.
  function sendable(item) { return mine(item) || item.path !== "/counts"; }
  function same(item, other) {
    return item.path === other.path && item.body.entry_id === other.body.entry_id;
  }

  function say(text, values) {
    return String(text).replace(/\{(\w+)\}/g, function (all, name) {
      return values && name in values ? values[name] : all;
    });
  }

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
  function count(n) { return new Intl.NumberFormat(it ? "it-IT" : "en-GB").format(n); }

  // The server's last word, kept on the phone: the newest of the page's copy and the stored one.
  var state = (function () {
    var page = JSON.parse($("stand-state").textContent);
    var stored = load(stateKey, null);
    return stored && stored.id === page.id && stored.version > page.version ? stored : page;
  })();

  // Taps this volunteer made on this phone and may still take back: {id, amount, by}.
  function allTaps() {
    return load(tapsKey).map(function (tap) { return typeof tap === "string" ? { id: tap, amount: null } : tap; });
  }
  function taps() { return allTaps().filter(mine); }
  function keepTaps(list) {
    keep(tapsKey, allTaps().filter(function (tap) { return !mine(tap); }).concat(list));
  }

  function pending(queue) {
    return queue.reduce(function (sum, item) {
      if (item.path === "/tallies") { sum.givers += 1; sum.cents += item.body.amount_cents || 0; }
      if (item.path === "/tallies/undo") { sum.givers -= 1; sum.cents -= item.amount || 0; }
      if (item.path === "/named-gifts") { sum.givers += 1; sum.cents += item.body.amount_cents; }
      return sum;
    }, { givers: 0, cents: 0 });
  }

  function latestCounts(counts) {
    return counts.filter(function (c) { return !c.replaced; });
  }

  function countedByMe(queue) {
    return state.counts.some(function (c) { return c.counter.toLowerCase() === me; }) ||
      queue.some(function (item) { return item.path === "/counts"; });
  }

  function render(fresh) {
    if (fresh && (!state || fresh.version >= state.version)) {
      state = fresh;
      keep(stateKey, state);
    }
    var all = load(queueKey);
    var queue = all.filter(mine);
    var waiting = pending(all.filter(sendable));
    var others = all.length - queue.length;
    $("givers").textContent = count(state.givers + waiting.givers);
    $("running-total").textContent = euro(state.tallied_cents + state.named_cents + waiting.cents);
    $("pending").textContent = queue.length;
    $("queue-text").textContent = queue.length ? say(texts.queued, { n: queue.length }) : texts.all_recorded;
    $("others-waiting").textContent = others ? say(texts.others_waiting, { n: others }) : "";
    $("others-waiting").hidden = !others;
    $("named-count").textContent = state.named;
    $("named-cents").textContent = euro(state.named_cents);
    var list = $("counts");
    list.innerHTML = "";
    state.counts.forEach(function (c) {
      var li = document.createElement("li");
      li.textContent = c.counter + ": " + euro(c.total_cents) + (c.replaced ? " (" + texts.replaced + ")" : "");
      if (c.replaced) { li.className = "replaced"; }
      list.appendChild(li);
    });
    all.forEach(function (item) {
      if (item.path !== "/counts") { return; }
      var li = document.createElement("li");
      li.className = "queued";
      li.textContent = (item.by || root.dataset.me) + ": " + euro(item.total) + " (" + texts.state_queued + ")";
      list.appendChild(li);
    });
    var recount = countedByMe(queue);
    $("count-submit").dataset.recount = recount ? "true" : "false";
    $("count-submit").textContent = recount ? texts.recount_button : texts.count_button;
    renderEntries();
    if (state.status !== "open") { showClosed(); }
  }

  function showClosed() {
    root.dataset.status = state.status;
    ["plus-one", "undo", "close"].forEach(function (id) { $(id).disabled = true; });
    Array.prototype.forEach.call(root.querySelectorAll(".chip, fieldset"), function (el) { el.disabled = true; });
    $("close-confirm").hidden = true;
    var closing = state.closing;
    if (!closing) { return; }
    $("closed-banner").textContent = say(texts.closed_banner, {
      counted: euro(closing.counted_cents), named: euro(closing.named_cents),
      givers: count(closing.tallied + closing.named)
    });
    $("closed-banner").hidden = false;
    $("final-counted").textContent = euro(closing.counted_cents);
    $("final-named").textContent = euro(closing.named_cents);
    $("final-anonymous").textContent = euro(closing.anonymous_cents);
    $("final-givers").textContent = count(closing.tallied + closing.named);
    $("final-figures").hidden = false;
  }

  // Named givers and counts from this phone, each with its state: in coda, registrato, refused.
  function log(entry) {
    var entries = load(logKey).filter(function (other) { return other.id !== entry.id; });
    entries.push(entry);
    keep(logKey, entries.slice(-20));
    renderEntries();
  }

  function renderEntries() {
    var list = $("named-entries");
    list.innerHTML = "";
    load(logKey).filter(function (entry) {
      return entry.kind === "named" && entry.by === me;  // never another volunteer's givers
    }).reverse().forEach(function (entry) {
      var li = document.createElement("li");
      li.className = "entry " + entry.status;
      var label = document.createElement("span");
      label.textContent = entry.label + " — ";
      var status = document.createElement("strong");
      status.className = "entry-state";
      status.textContent = texts["state_" + entry.status];
      li.appendChild(label);
      li.appendChild(status);
      if (entry.status === "refused") {
        var fix = document.createElement("button");
        fix.type = "button";
        fix.className = "link fix";
        fix.textContent = texts.correct;
        fix.addEventListener("click", function () { refill(entry); });
        li.appendChild(document.createTextNode(" "));
        li.appendChild(fix);
      }
      list.appendChild(li);
    });
  }

  function network(online) {
    var el = $("network");
    el.classList.toggle("offline", !online);
    el.textContent = online ? texts.online : texts.offline;
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
    if (!response.ok || response.redirected) { return response; }
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

  async function refresh() {
    try {
      var response = await fetch(api, { credentials: "same-origin", headers: { "Accept": "application/json" } });
      if (response.ok && !response.redirected) { render(await response.json()); }
      return response.ok;
    } catch (e) { network(false); return false; }
  }

  function showProblem(text, signIn) {
    var el = $("queue-problem");
    el.textContent = text;
    if (signIn) {
      var link = document.createElement("a");
      link.href = loginUrl;
      link.textContent = texts.sign_in_again;
      el.appendChild(document.createTextNode(" "));
      el.appendChild(link);
    }
    el.hidden = !text;
  }

  function kept(response, message) {
    if (response.status === 401) { return say(texts.session_expired, { n: load(queueKey).filter(mine).length }); }
    // Only the stand API's own refusals (404, 409) speak the page's language; anything else
    // (a proxy, the CSRF check, a server in trouble) is told in the page's words.
    var own = response.status === 404 || response.status === 409;
    return say(texts.kept, { status: response.status, message: own ? message : texts.server_trouble });
  }

  function message(id, text, isError) {
    var el = $(id);
    el.textContent = text;
    el.classList.toggle("error", !!isError);
  }

  async function answer(response) {
    try { return await response.json(); } catch (e) { return { message: response.statusText }; }
  }

  // The entry leaves the queue (found by what it is: signing out may have sent it meanwhile);
  // a tap refused as invalid takes its waiting undo along.
  function dequeue(item, refused) {
    var queue = load(queueKey);
    var at = queue.findIndex(function (other) { return same(item, other); });
    if (at >= 0) { queue.splice(at, 1); }
    if (refused && item.path === "/tallies") {
      var id = item.body.entry_id;
      queue = queue.filter(function (other) {
        return !(other.path === "/tallies/undo" && other.body.entry_id === id);
      });
      keep(tapsKey, allTaps().filter(function (tap) { return tap.id !== id; }));
    }
    keep(queueKey, queue);
  }

  function confirmed(item) {
    if (!mine(item)) {  // another volunteer's giver: their log, out of this one's sight
      if (item.path === "/named-gifts") {
        log({ id: item.body.entry_id, kind: "named", label: item.label, status: "recorded", by: item.by });
      }
      return;
    }
    if (item.path === "/named-gifts") {
      log({ id: item.body.entry_id, kind: "named", label: item.label, status: "recorded", by: me });
      message("named-message", say(texts.named_recorded, { name: item.name, amount: euro(item.body.amount_cents) }), false);
    } else if (item.path === "/counts") {
      message("count-message", say(texts.count_recorded, { amount: euro(item.total) }), false);
    }
  }

  function refused(item, body) {
    if (item.path === "/named-gifts") {
      var entry = { id: item.body.entry_id, kind: "named", label: item.label, status: "refused",
                    body: item.body, amount: item.amount, errors: body.errors || {}, message: body.message,
                    by: item.by || me };
      log(entry);
      if (!mine(item)) { return; }  // its author corrects it when they sign in again
      message("named-message", say(texts.named_refused, { name: item.name }) + " " + (body.message || ""), true);
      var form = $("named-form");
      var typing = ["first_name", "last_name", "email", "phone", "tax_code", "amount"].some(function (name) {
        return form[name].value.trim();
      });
      if (!typing) { refill(entry); }
    } else if (!mine(item)) {
      return;
    } else if (item.path === "/counts") {
      message("count-message", say(texts.count_refused, { message: body.message || "" }), true);
    } else {
      message("close-message", body.message || "", true);
    }
  }

  // Send the queue in order; stop at the first failure and try again later.
  async function flush() {
    if (sending) { return; }
    sending = true;
    try {
      for (var queue = load(queueKey).filter(sendable); queue.length; queue = load(queueKey).filter(sendable)) {
        var item = queue[0];
        var response;
        try { response = await send(item.path, item.body); } catch (e) { network(false); return; }
        network(true);
        if (response.ok && !response.redirected) {
          dequeue(item, false);
          showProblem("");
          confirmed(item);
          render(await response.json());
        } else if (response.status === 422 ||
                   (response.status === 409 && item.path !== "/tallies" && item.path !== "/tallies/undo")) {
          dequeue(item, true);
          refused(item, await answer(response));
          await refresh();
        } else {
          var body = await answer(response);
          showProblem(kept(response, body.message || ""), response.status === 401 || response.redirected);
          if (response.status === 409) { await refresh(); }
          return;
        }
      }
    } finally {
      sending = false;
      render();
    }
  }

  function enqueue(item) {
    var queue = load(queueKey);
    item.by = me;
    queue.push(item);
    keep(queueKey, queue);
    render();
    flush();
  }

  function tap(amount) {
    if (state.status !== "open") { return; }
    var id = newId();
    var list = taps();
    list.push({ id: id, amount: amount, by: me });
    keepTaps(list);
    enqueue({ path: "/tallies", body: amount ? { entry_id: id, amount_cents: amount } : { entry_id: id } });
  }

  $("plus-one").addEventListener("click", function () { tap(null); });
  Array.prototype.forEach.call(document.querySelectorAll(".chip"), function (chip) {
    chip.addEventListener("click", function () { tap(parseInt(chip.dataset.amount, 10)); });
  });

  $("undo").addEventListener("click", function () {
    var list = taps();
    var last = list.pop();
    if (!last) { return; }
    var queue = load(queueKey);
    var waiting = queue.findIndex(function (item) {
      return item.path === "/tallies" && item.body.entry_id === last.id;
    });
    if (waiting >= 0 && !sending) {  // never sent: simply forget it
      queue.splice(waiting, 1);
      keep(queueKey, queue);
      keepTaps(list);
      render();
    } else {
      keepTaps(list);
      enqueue({ path: "/tallies/undo", amount: last.amount, body: { entry_id: last.id } });
    }
  });

  // Named givers: checked here as the server checks them, so most refusals never need it.

  // "10", "12,50", "12.50", "1.234,50", "€ 5": cents, or null when it is not an amount.
  function cents(text) {
    var clean = String(text).replace(/[€\s\u00a0]/g, "");
    var match = /^(\d+)(?:[.,](\d{1,2}))?$/.exec(clean) ||
      /^(\d{1,3}(?:\.\d{3})+)(?:,(\d{1,2}))?$/.exec(clean);
    if (!match) { return null; }
    var value = parseInt(match[1].replace(/\./g, ""), 10) * 100 + parseInt(((match[2] || "") + "00").slice(0, 2), 10);
    return value > 0 ? value : null;
  }

  var ODD = { 0: 1, 1: 0, 2: 5, 3: 7, 4: 9, 5: 13, 6: 15, 7: 17, 8: 19, 9: 21, A: 1, B: 0, C: 5, D: 7,
    E: 9, F: 13, G: 15, H: 17, I: 19, J: 21, K: 2, L: 4, M: 18, N: 20, O: 11, P: 3, Q: 6, R: 8,
    S: 12, T: 14, U: 16, V: 10, W: 22, X: 25, Y: 24, Z: 23 };

  // The codice fiscale's format (omocodia letters allowed), birth date and check letter, and
  // the partita IVA's office and check digit, as python-stdnum checks them on the server.
  function taxCodeValid(text) {
    var code = text.replace(/\s/g, "").toUpperCase();
    if (/^(IT)?\d{11}$/.test(code)) {
      var digits = code.slice(-11);
      var office = digits.slice(7, 10);
      if (/^0{7}/.test(digits) || !((office >= "001" && office <= "100") || ["120", "121", "888", "999"].indexOf(office) >= 0)) {
        return false;
      }
      var sum = 0;
      for (var i = 0; i < 10; i++) {
        var d = Number(digits[i]);
        if (i % 2) { d *= 2; if (d > 9) { d -= 9; } }
        sum += d;
      }
      return (10 - sum % 10) % 10 === Number(digits[10]);
    }
    if (!/^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$/.test(code)) {
      return false;
    }
    var digit = function (c) { return /\d/.test(c) ? Number(c) : "LMNPQRSTUV".indexOf(c); };
    var year = digit(code[6]) * 10 + digit(code[7]);
    year += year < 20 ? 2000 : 1900;  // stdnum reads the two digits from 1920 to 2019
    var month = "ABCDEHLMPRST".indexOf(code[8]);
    var day = (digit(code[9]) * 10 + digit(code[10])) % 40;
    var born = new Date(Date.UTC(year, month, day));
    if (!day || born.getUTCMonth() !== month || born.getUTCDate() !== day) { return false; }
    var total = 0;
    for (var j = 0; j < 15; j++) {
      var c = code[j];
      total += j % 2 === 0 ? ODD[c] : (/\d/.test(c) ? Number(c) : c.charCodeAt(0) - 65);
    }
    return String.fromCharCode(65 + total % 26) === code[15];
  }

  function phoneValid(text) {
    return /^(\+|00)?\d{6,15}$/.test(text.replace(/[\s.\-()\/]/g, ""));
  }

  function emailValid(text) { return /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(text.trim()); }

  var namedForm = $("named-form");

  function showErrors(errors) {
    var first = null;
    ["first_name", "last_name", "email", "phone", "tax_code", "amount", "contact", "privacy_consent"].forEach(function (name) {
      var el = $("error-" + name);
      var text = errors[name] && errors[name].join(" ");
      el.textContent = text || "";
      el.hidden = !text;
      var input = namedForm.elements[name];
      if (input) {
        if (text) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
        if (text && !first) { first = input; }
      }
      if (name === "contact" && text && !first) { first = namedForm.email; }
    });
    return first;
  }

  function refill(entry) {
    $("named-panel").open = true;
    var body = entry.body;
    ["first_name", "last_name", "email", "phone", "tax_code"].forEach(function (name) { namedForm[name].value = body[name] || ""; });
    namedForm.amount.value = entry.amount || "";
    namedForm.privacy_consent.checked = !!body.privacy_consent;
    namedForm.marketing_consent.checked = !!body.marketing_consent;
    var errors = {};
    Object.keys(entry.errors || {}).forEach(function (name) {
      errors[name === "amount_cents" ? "amount" : name] = entry.errors[name];
    });
    if (!Object.keys(errors).length && entry.message) { errors.contact = [entry.message]; }
    namedForm.dataset.refused = entry.id;
    var first = showErrors(errors);
    if (first) { first.focus(); }
  }

  namedForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var form = namedForm;
    var value = function (name) { return form[name].value.trim(); };
    var errors = {};
    if (!value("first_name")) { errors.first_name = [texts.need_name]; }
    if (!value("last_name")) { errors.last_name = [texts.need_name]; }
    var amount = cents(value("amount"));
    if (amount === null) { errors.amount = [texts.need_amount]; }
    if (!value("email") && !value("phone") && !value("tax_code")) { errors.contact = [texts.need_contact]; }
    if (value("email") && !emailValid(value("email"))) { errors.email = [texts.bad_email]; }
    if (value("phone") && !phoneValid(value("phone"))) { errors.phone = [texts.bad_phone]; }
    if (value("tax_code") && !taxCodeValid(value("tax_code"))) { errors.tax_code = [texts.bad_tax_code]; }
    if (!form.privacy_consent.checked) { errors.privacy_consent = [texts.need_privacy]; }
    var first = showErrors(errors);
    if (first) {
      first.focus();
      message("named-message", "", false);
      return;
    }
    var name = value("first_name") + " " + value("last_name");
    var id = newId();
    var item = {
      path: "/named-gifts", name: name, amount: value("amount"), label: name + " · " + euro(amount),
      body: {
        entry_id: id, first_name: value("first_name"), last_name: value("last_name"),
        email: value("email"), phone: value("phone"), tax_code: value("tax_code"),
        amount_cents: amount, privacy_consent: true, marketing_consent: form.marketing_consent.checked
      }
    };
    if (form.dataset.refused) {  // corrected: the refused entry gives way to the new one
      keep(logKey, load(logKey).filter(function (entry) { return entry.id !== form.dataset.refused; }));
      delete form.dataset.refused;
    }
    log({ id: id, kind: "named", label: item.label, status: "queued", by: me });
    form.reset();
    message("named-message", say(texts.named_queued, { name: name, amount: euro(amount) }), false);
    enqueue(item);
  });

  var countForm = $("count-form");
  function countTotal() {
    return Array.prototype.reduce.call(countForm.querySelectorAll("[data-cents]"), function (sum, input) {
      return sum + parseInt(input.dataset.cents, 10) * (parseInt(input.value, 10) || 0);
    }, 0);
  }
  countForm.addEventListener("input", function () { $("count-total").textContent = euro(countTotal()); });
  countForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var denominations = {};
    countForm.querySelectorAll("[data-cents]").forEach(function (input) {
      var n = parseInt(input.value, 10) || 0;
      if (n) { denominations[input.dataset.cents] = n; }
    });
    var total = countTotal();
    var recount = $("count-submit").dataset.recount === "true";
    countForm.reset();
    $("count-total").textContent = euro(0);
    message("count-message", say(texts.count_queued, { amount: euro(total) }), false);
    enqueue({ path: "/counts", total: total, body: { entry_id: newId(), denominations: denominations, recount: recount } });
  });

  // Closing: the queue goes first, then the figures as the server has them, then a yes.
  $("close").addEventListener("click", async function () {
    await flush();
    if (load(queueKey).filter(sendable).length) { message("close-message", texts.close_waiting, true); return; }
    if (!(await refresh())) { message("close-message", texts.close_offline, true); return; }
    var counters = {};
    latestCounts(state.counts).forEach(function (c) { counters[c.counter.toLowerCase()] = true; });
    if (Object.keys(counters).length < 2) { message("close-message", texts.need_two_counts, true); return; }
    message("close-message", "", false);
    $("confirm-givers").textContent = count(state.givers);
    $("confirm-counts").textContent = latestCounts(state.counts).map(function (c) {
      return c.counter + ": " + euro(c.total_cents);
    }).join("; ") || "—";
    $("confirm-named").textContent = count(state.named) + " · " + euro(state.named_cents);
    $("close-confirm").hidden = false;
    $("close-yes").focus();
  });
  $("close-no").addEventListener("click", function () {
    $("close-confirm").hidden = true;
    $("close").focus();
  });
  $("close-yes").addEventListener("click", async function () {
    $("close-confirm").hidden = true;
    try {
      var response = await send("/close");
      var body = await answer(response);
      if (response.ok && !response.redirected) {
        render(body);
        message("close-message", say(texts.closed_message, { amount: euro(body.closing.counted_cents) }), false);
        $("closed-banner").focus();
        window.scrollTo(0, 0);
      } else {
        if (body.state) { render(body.state); }
        message("close-message", body.message || kept(response, ""), true);
        if (response.status === 401) { showProblem(kept(response, ""), true); }
      }
    } catch (e) {
      network(false);
      message("close-message", texts.close_offline, true);
    }
  });

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(root.dataset.worker, { scope: root.dataset.scope }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      registration.active.postMessage({ keep: location.href.split("#")[0] });
    }).catch(function () { /* the page still works online without its worker */ });
  }

  // Back (or forward) to this page after signing out: the server's answer, not the old page.
  window.addEventListener("pageshow", function (event) { if (event.persisted) { location.reload(); } });
  window.addEventListener("online", function () { network(true); flush(); });
  window.addEventListener("offline", function () { network(false); });
  setInterval(flush, 3000);
  render();
  if (!navigator.onLine) { network(false); }
  refresh().then(flush);
})();
