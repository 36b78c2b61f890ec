// gitrelay's pages work as plain forms; this script adds dialogs, the
// server-side repository search, live checks and small conveniences. It
// only calls gitrelay's own JSON API with the session cookie (GET requests
// only, so no CSRF token is needed here).
"use strict";

(function () {
  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  function getJSON(url, signal) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" }, signal: signal })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) {
          if (!r.ok) {
            var msg = (body && body.error && body.error.message) || ("The server answered " + r.status + ".");
            throw new Error(msg);
          }
          return body;
        });
      });
  }

  // Dialogs: buttons with data-open="id" open <dialog id="id">.
  $all("[data-open]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var dlg = document.getElementById(btn.getAttribute("data-open"));
      if (!dlg) { return; }
      dlg.showModal();
      var first = $("input:not([type=hidden]), select, textarea", dlg);
      if (first) { first.focus(); }
    });
  });
  $all("dialog [data-close]").forEach(function (btn) {
    btn.addEventListener("click", function () { btn.closest("dialog").close(); });
  });

  // Confirmation for destructive buttons.
  $all("[data-confirm]").forEach(function (btn) {
    btn.addEventListener("click", function (ev) {
      if (!window.confirm(btn.getAttribute("data-confirm"))) { ev.preventDefault(); }
    });
  });

  // Client-side filter of a list (the server filters too, with ?q=).
  $all("[data-filter]").forEach(function (input) {
    var items = $all(input.getAttribute("data-filter"));
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase();
      items.forEach(function (li) {
        var name = (li.getAttribute("data-name") || li.textContent).toLowerCase();
        li.hidden = q !== "" && name.indexOf(q) < 0;
      });
    });
  });

  // Git ref-name rules (git check-ref-format), for the message shown while
  // typing; the server checks again.
  function branchProblem(name, key) {
    if (name === "") { return "Type a branch name."; }
    if (/[\x00-\x20\x7f~^:?*\[\\]/.test(name)) { return "Branch names cannot contain spaces or any of ~ ^ : ? * [ \\."; }
    if (name.indexOf("..") >= 0) { return "Branch names cannot contain “..”."; }
    if (name.indexOf("@{") >= 0 || name === "@") { return "Branch names cannot contain “@{” or be “@”."; }
    if (/^\/|\/$|\/\//.test(name)) { return "Branch names cannot start or end with “/” or contain “//”."; }
    if (/\.$|\.lock$|(^|\/)\./.test(name) || /\.lock\//.test(name)) { return "No part of a branch name may start with “.” or end with “.” or “.lock”."; }
    if (key && name.toUpperCase().indexOf(key.toUpperCase()) < 0) { return "The branch name must contain the issue key " + key + "."; }
    return "";
  }

  // Repository pickers: search every integration on the server as the user
  // types, and pick with the mouse or the keyboard (arrows, Enter, Escape).
  $all("form[data-picker-form]").forEach(function (form) {
    var integrations = [];
    try { integrations = JSON.parse(form.getAttribute("data-integrations") || "[]") || []; } catch (e) { integrations = []; }
    var key = form.getAttribute("data-issue-key");
    var input = $("[data-repo-search]", form);
    var list = $("[role=listbox]", form);
    var status = document.getElementById(input.getAttribute("aria-describedby"));
    var integrationField = $("[data-field=integration]", form);
    var repoField = $("[data-field=repository]", form);
    var base = $("[data-base]", form);
    var datalist = base ? document.getElementById(base.getAttribute("list")) : null;
    var nameInput = $("[data-branch-name]", form);
    var nameStatus = nameInput ? document.getElementById(nameInput.getAttribute("aria-describedby")) : null;
    var options = [], active = -1, timer = null, inflight = null, choosing = false, picked = input.value !== "" && repoField.value !== "";

    function close() { list.hidden = true; input.setAttribute("aria-expanded", "false"); input.removeAttribute("aria-activedescendant"); active = -1; }
    function highlight(i) {
      var items = $all("[role=option]", list);
      items.forEach(function (li, j) { li.setAttribute("aria-selected", j === i ? "true" : "false"); });
      active = i;
      if (items[i]) { input.setAttribute("aria-activedescendant", items[i].id); items[i].scrollIntoView({ block: "nearest" }); }
    }
    function choose(i) {
      var o = options[i];
      if (!o) { return; }
      // A search still pending from the typing must not reopen the list.
      clearTimeout(timer);
      if (inflight) { inflight.abort(); inflight = null; }
      integrationField.value = o.integration.id;
      repoField.value = o.repo.id;
      input.value = o.repo.full_name;
      picked = true;
      input.setCustomValidity("");
      close();
      status.textContent = "Selected " + o.repo.full_name + (integrations.length > 1 ? " on " + o.integration.name : "") + ".";
      if (base && !base.value && o.repo.default_branch) { base.value = o.repo.default_branch; }
      if (datalist) {
        datalist.textContent = "";
        getJSON("/api/v1/integrations/" + encodeURIComponent(o.integration.id) + "/repositories/" + encodeURIComponent(o.repo.id) + "/branches")
          .then(function (branches) {
            (branches || []).slice(0, 500).forEach(function (b) {
              var opt = document.createElement("option"); opt.value = b.name; datalist.appendChild(opt);
            });
          }).catch(function () { /* the base can still be typed */ });
      }
    }
    function show(results, total) {
      options = results;
      list.textContent = "";
      var names = {};
      results.forEach(function (o) { names[o.repo.name] = (names[o.repo.name] || 0) + 1; });
      results.forEach(function (o, i) {
        var li = document.createElement("li");
        li.id = input.id + "-opt-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        // Same-name repositories are told apart by their owner, group or
        // region prefix (the full name), and by integration when several.
        var full = o.repo.full_name || o.repo.name;
        var cut = full.lastIndexOf("/");
        if (cut > 0) {
          var owner = document.createElement("span"); owner.className = "owner"; owner.textContent = full.slice(0, cut + 1);
          li.appendChild(owner);
          li.appendChild(document.createTextNode(full.slice(cut + 1)));
        } else { li.textContent = full; }
        if (integrations.length > 1) {
          var on = document.createElement("span"); on.className = "owner"; on.textContent = " — " + o.integration.name; li.appendChild(on);
        }
        li.addEventListener("mousedown", function (ev) { ev.preventDefault(); choose(i); });
        list.appendChild(li);
      });
      list.hidden = results.length === 0;
      input.setAttribute("aria-expanded", results.length ? "true" : "false");
      if (results.length) { highlight(0); }
      status.textContent = results.length === 0 ? "No repository matches “" + input.value + "”. Check the spelling, or ask an administrator whether the integration account can see it."
        : (total > results.length ? "Showing " + results.length + " of " + total + " repositories: keep typing to narrow the list." : results.length + (results.length === 1 ? " repository" : " repositories") + " found. Use the arrow keys and Enter to choose.");
    }
    function search() {
      var q = input.value.trim();
      if (inflight) { inflight.abort(); }
      inflight = new AbortController();
      var signal = inflight.signal;
      status.textContent = "Searching…";
      var all = [], errors = [];
      Promise.all(integrations.map(function (ig) {
        return getJSON("/api/v1/integrations/" + encodeURIComponent(ig.id) + "/repositories?q=" + encodeURIComponent(q), signal)
          .then(function (repos) { (repos || []).forEach(function (r) { all.push({ integration: ig, repo: r }); }); })
          .catch(function (err) { if (err.name !== "AbortError") { errors.push(ig.name + ": " + err.message); } });
      })).then(function () {
        if (signal.aborted || picked) { return; }
        all.sort(function (a, b) { return (a.repo.full_name || "").localeCompare(b.repo.full_name || ""); });
        show(all.slice(0, 50), all.length);
        if (errors.length) { status.textContent += " Some integrations could not be searched: " + errors.join(" "); }
      });
    }
    input.addEventListener("input", function () {
      picked = false; repoField.value = ""; integrationField.value = "";
      clearTimeout(timer); timer = setTimeout(search, 200);
    });
    // The list closes a moment after the search loses focus; coming back
    // within that moment (closing the dialog and opening it again) must not
    // let that close hide the list the new focus opens.
    var blurTimer = null;
    input.addEventListener("focus", function () {
      clearTimeout(blurTimer);
      if (!picked && input.value === "") { search(); }
    });
    input.addEventListener("keydown", function (ev) {
      if (ev.key === "ArrowDown") { ev.preventDefault(); if (list.hidden) { search(); } else { highlight(Math.min(active + 1, options.length - 1)); } }
      else if (ev.key === "ArrowUp") { ev.preventDefault(); highlight(Math.max(active - 1, 0)); }
      else if (ev.key === "Enter" && !list.hidden && active >= 0) { ev.preventDefault(); choosing = true; choose(active); }
      else if (ev.key === "Escape" && !list.hidden) { ev.preventDefault(); ev.stopPropagation(); close(); }
    });
    // The Enter that picks an option must not also submit the form, even
    // where its keypress still arrives after the keydown was handled.
    input.addEventListener("keypress", function (ev) { if (ev.key === "Enter" && choosing) { ev.preventDefault(); } });
    input.addEventListener("keyup", function (ev) { if (ev.key === "Enter") { choosing = false; } });
    input.addEventListener("blur", function () { clearTimeout(blurTimer); blurTimer = setTimeout(close, 150); });
    form.addEventListener("submit", function (ev) {
      if (!repoField.value) {
        ev.preventDefault();
        input.setCustomValidity("Choose a repository from the list.");
        input.reportValidity();
        input.focus();
      }
    });
    if (nameInput) {
      var check = function () {
        var msg = branchProblem(nameInput.value.trim(), key);
        nameInput.setCustomValidity(msg);
        nameInput.setAttribute("aria-invalid", msg ? "true" : "false");
        nameStatus.textContent = msg || "Valid branch name.";
        nameStatus.className = msg ? "hint bad" : "hint";
      };
      nameInput.addEventListener("input", check);
      if (nameInput.value) { check(); }
    }
  });

  // Add integration: show the fields the chosen kind's adapter describes
  // (internal/web/integrations.go renders them); fields of other kinds are
  // disabled, so they are not sent. A server without PATs signs in with
  // its own credential, and Require User PAT is warned about at once.
  $all("[data-kind-form]").forEach(function (form) {
    var select = $("[data-kind-select]", form);
    var requirePAT = $("[data-require-user-pat]", form);
    function update() {
      var opt = select.options[select.selectedIndex];
      var kind = opt.value;
      var needsBase = opt.getAttribute("data-base-url") === "true";
      $all("[data-for-base-url]", form).forEach(function (el) { el.hidden = !needsBase; });
      var baseInput = $("[data-base-url-input]", form);
      if (baseInput) { baseInput.placeholder = opt.getAttribute("data-hint") || "https://git.example.com"; baseInput.required = needsBase; }
      var pat = null, noPAT = false;
      $all("[data-for-kind]", form).forEach(function (el) {
        if (el.getAttribute("data-for-kind") === kind && el.getAttribute("data-credential") === "pat") { pat = el; }
      });
      if (pat && pat.getAttribute("data-no-pat-option")) {
        var ruled = $("[data-for-kind='" + kind + "'] [data-option='" + pat.getAttribute("data-no-pat-option") + "']", form);
        var values = (pat.getAttribute("data-no-pat-values") || "").split(" ");
        noPAT = !!ruled && values.indexOf(ruled.value) >= 0;
      }
      var hasNoPATFields = !!$("[data-for-kind='" + kind + "'][data-credential='no-pat']", form);
      $all("[data-for-kind]", form).forEach(function (el) {
        var on = el.getAttribute("data-for-kind") === kind;
        var cred = el.getAttribute("data-credential");
        if (on && cred === "pat") { on = !(noPAT && hasNoPATFields); }
        if (on && cred === "no-pat") { on = noPAT; }
        el.hidden = !on;
        $all("input, select", el).forEach(function (i) {
          i.disabled = !on;
          if (cred) { i.required = on; }
        });
      });
      $all("[data-no-pat-warning]", form).forEach(function (el) {
        el.hidden = !(el.getAttribute("data-no-pat-warning") === kind && noPAT && requirePAT && requirePAT.checked);
      });
    }
    select.addEventListener("change", update);
    form.addEventListener("change", function (ev) {
      if (ev.target.hasAttribute("data-option") || ev.target === requirePAT) { update(); }
    });
    update();
  });

  // Integration forms: project keys only with "Restrict to projects".
  $all("fieldset[data-projects]").forEach(function (box) {
    var keys = $("[data-for-projects-mode=restrict]", box);
    function update() {
      var picked = $("input[name=projects_mode]:checked", box);
      if (keys) { keys.hidden = !picked || picked.value !== "restrict"; }
    }
    $all("input[name=projects_mode]", box).forEach(function (radio) { radio.addEventListener("change", update); });
    update();
  });

  // Edit integration: warn at once when Require User PAT is ticked for a
  // server version without PATs (the server warns again on Update).
  $all("input[data-no-pat]").forEach(function (box) {
    var warning = document.getElementById(box.getAttribute("data-no-pat"));
    box.addEventListener("change", function () { if (warning) { warning.hidden = !box.checked; } });
  });

  // Edit integration, Repositories: the picker shows only with "Only these
  // repositories", and Enter in its search field searches rather than
  // saving the form (the server does the search; see integrations.go).
  $all("[data-repo-picker]").forEach(function (box) {
    var only = $("[data-for-repos-mode=only]", box);
    function update() {
      var picked = $("input[name=repos_mode]:checked", box);
      if (only) { only.hidden = !picked || picked.value !== "only"; }
    }
    $all("input[name=repos_mode]", box).forEach(function (radio) { radio.addEventListener("change", update); });
    update();
    var search = $("[data-repo-picker-search]", box), button = $("[data-repo-picker-button]", box);
    if (search && button) {
      search.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter") { ev.preventDefault(); button.click(); }
      });
      // Where a keypress still arrives after the handled keydown, it must
      // not press the form's default button (Update) as well.
      search.addEventListener("keypress", function (ev) { if (ev.key === "Enter") { ev.preventDefault(); } });
    }
  });

  // General settings: live preview of the branch name for a sample issue.
  $all("[data-settings-form]").forEach(function (form) {
    var out = document.getElementById("name-preview"), err = document.getElementById("name-preview-error"), timer = null;
    function refresh() {
      var q = new URLSearchParams({
        branch_template: form.elements.branch_template.value,
        separator: form.elements.separator.value,
        max_branch_length: form.elements.max_branch_length.value
      });
      getJSON("/admin/settings/preview?" + q.toString()).then(function (r) {
        out.textContent = r.name || ""; err.textContent = r.error || "";
      }).catch(function (e) { err.textContent = e.message; });
    }
    form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refresh, 150); });
    form.addEventListener("change", refresh);
  });

  // An integration's index: while repositories are still queued or being
  // read (the first index of a new integration, a re-index), its figures
  // follow the API every two seconds, without reloading the page.
  $all("[data-index-status]").forEach(function (section) {
    var url = section.getAttribute("data-index-status");
    function set(id, text) {
      var el = document.getElementById(id);
      if (el && el.textContent !== text) { el.textContent = text; }
    }
    function size(n) {
      if (n < 1024) { return n + " B"; }
      var units = "KMGTPE", i = -1;
      do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
      return n.toFixed(1) + " " + units[i] + "iB";
    }
    function busy(s) { return s.queued > 0 || s.indexed + s.failing < s.total; }
    function refresh() {
      getJSON(url).then(function (s) {
        set("index-indexed", s.indexed + " of " + s.total);
        set("index-queued", String(s.queued));
        set("index-failing", String(s.failing));
        set("index-commits", String(s.commits));
        set("index-disk", size(s.disk_bytes));
        section.setAttribute("aria-busy", busy(s) ? "true" : "false");
        if (busy(s)) { setTimeout(refresh, 2000); }
      }).catch(function () { setTimeout(refresh, 10000); });
    }
    refresh();
  });
})();
