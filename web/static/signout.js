// Signing out of a phone shared between volunteers leaves nothing personal behind: the stand
// pages' logs, taps and last states (in localStorage, for every stand) and the pages the
// service worker keeps are wiped before the sign-out goes to the server, and the session's
// page half after it whatever the answer (the session ends even if the server never hears the
// sign-out). Entries the server has not confirmed yet are never dropped unasked: they are
// sent first; when they cannot be (no network, session gone), the sign-out waits, says how
// many would be lost, and completes by itself once they are sent, or deletes them when the
// volunteer says so. Another volunteer's entries left by an expired session are theirs:
// kept, neither sent nor counted.
(function () {
  "use strict";
  var form = document.getElementById("sign-out");
  var held = document.getElementById("sign-out-held");
  if (!form || !held) { return; }
  var texts = JSON.parse(document.getElementById("sign-out-texts").textContent);
  var me = (form.dataset.me || "").toLowerCase();
  var standsApi = form.dataset.standsApi;
  var STAND_KEY = /^fondo-(queue|taps|log|state)-(.+)$/;
  var PRESENCE = "fondo_presence";  // web/auth.py, PRESENCE_COOKIE
  var STAND_PAGE = /\/stands\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  var leaving = false;
  var retry = null;

  function load(key) {
    try { return JSON.parse(localStorage.getItem(key)) || []; } catch (e) { return []; }
  }
  function mine(item) { return (item.by || me) === me; }

  // Every stand this phone keeps something of.
  function stands() {
    var ids = {};
    for (var i = 0; i < localStorage.length; i++) {
      var match = STAND_KEY.exec(localStorage.key(i));
      if (match) { ids[match[2]] = true; }
    }
    return Object.keys(ids);
  }

  function unsent() {
    return stands().reduce(function (sum, stand) {
      return sum + load("fondo-queue-" + stand).filter(mine).length;
    }, 0);
  }

  // This volunteer's queue of one stand, in order, stopping at the first entry not taken; the
  // stand page may be sending the same entries, so each leaves the queue by what it is (the
  // server takes a resent entry id as a no-op).
  async function send(stand) {
    for (;;) {
      var item = load("fondo-queue-" + stand).filter(mine)[0];
      if (!item) { return; }
      var response = await fetch(standsApi + "/" + stand + item.path, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json",
                   "X-CSRFToken": form.elements.csrf_token.value },
        body: JSON.stringify(item.body)
      });
      if (!response.ok || response.redirected) { return; }
      var queue = load("fondo-queue-" + stand).filter(function (other) {
        return !(other.path === item.path && other.body.entry_id === item.body.entry_id);
      });
      localStorage.setItem("fondo-queue-" + stand, JSON.stringify(queue));
    }
  }

  async function sendAll() {
    try {
      for (var stand of stands()) { await send(stand); }
    } catch (e) { /* no network: what is left is counted and kept */ }
    return unsent();
  }

  // What stays is another volunteer's queue and the log lines and taps it still needs.
  async function wipe() {
    stands().forEach(function (stand) {
      var queue = load("fondo-queue-" + stand).filter(function (item) { return !mine(item); });
      var waiting = {};
      queue.forEach(function (item) { waiting[item.body.entry_id] = true; });
      var still = function (entry) { return typeof entry === "object" && entry && waiting[entry.id]; };
      [["fondo-queue-", queue], ["fondo-taps-", load("fondo-taps-" + stand).filter(still)],
       ["fondo-log-", load("fondo-log-" + stand).filter(still)], ["fondo-state-", []]].forEach(function (pair) {
        if (pair[1].length) {
          localStorage.setItem(pair[0] + stand, JSON.stringify(pair[1]));
        } else {
          localStorage.removeItem(pair[0] + stand);
        }
      });
    });
    if (!window.caches) { return; }
    try {
      for (var name of await caches.keys()) {
        if (name.indexOf("fondo-stands-") !== 0) { continue; }
        var cache = await caches.open(name);
        for (var request of await cache.keys()) {
          if (STAND_PAGE.test(new URL(request.url).pathname)) { await cache.delete(request); }
        }
      }
    } catch (e) { /* no cache storage here (a private window): nothing kept there either */ }
  }

  // The sign-out itself, given a few seconds. Then the session's page half goes whatever
  // the answer (the server's own sign-out has deleted it already; no network, no answer or a
  // Wi-Fi login page in its place have not): the session then ends at the phone's next
  // request, before the next volunteer can use it.
  async function leave() {
    leaving = true;
    clearInterval(retry);
    document.dispatchEvent(new Event("fondo:signing-out"));
    await wipe();
    var abort = new AbortController();
    var timer = setTimeout(function () { abort.abort(); }, 5000);
    try {
      await fetch(form.action, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        redirect: "manual", signal: abort.signal
      });
    } catch (e) {
      /* no network or no answer in time: the page half below ends the session */
    } finally {
      clearTimeout(timer);
      document.cookie = PRESENCE + "=; Max-Age=0; Path=/; SameSite=Lax" +
        (location.protocol === "https:" ? "; Secure" : "");
    }
    location.assign(form.dataset.home);
  }

  function say(text, n) { return String(text).replace("{n}", n); }

  function hold(n) {
    held.querySelector(".held-text").textContent = say(n === 1 ? texts.held_one : texts.held_other, n);
    held.querySelector(".held-leave").textContent = say(n === 1 ? texts.leave_one : texts.leave_other, n);
    held.hidden = false;
    held.querySelector(".held-stay").focus();
  }

  async function tryAgain() {
    if (leaving || held.hidden) { return; }
    var n = await sendAll();
    if (leaving || held.hidden) { return; }
    if (n) { hold(n); } else { await leave(); }
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    if (leaving) { return; }
    var n = await sendAll();
    if (!n) { await leave(); return; }
    hold(n);
    clearInterval(retry);
    retry = setInterval(tryAgain, 3000);
  });
  window.addEventListener("online", tryAgain);
  held.querySelector(".held-stay").addEventListener("click", function () {
    clearInterval(retry);
    held.hidden = true;
  });
  held.querySelector(".held-leave").addEventListener("click", function () { leave(); });
})();
