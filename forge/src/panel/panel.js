// gitrelay's development panel inside a Jira issue, and the administration
// page (one bundle, the view picked from the module key). Every call goes to
// the gitrelay remote through Forge with @forge/bridge's invokeRemote (Forge
// adds the invocation token and the app's tokens); gitrelay checks the
// user's Jira permissions and chooses whose git identity acts. Text from the
// server is only ever set as textContent, never as HTML.
import { invokeRemote, router, view } from '@forge/bridge';

var panel = document.getElementById('panel');
var issueKey = '';
var dev = null;

function el(tag, attrs, children) {
  var e = document.createElement(tag);
  Object.keys(attrs || {}).forEach(function (k) {
    if (k === 'text') { e.textContent = attrs[k]; } else if (k === 'onclick') { e.addEventListener('click', attrs[k]); } else { e.setAttribute(k, attrs[k]); }
  });
  (children || []).forEach(function (c) { if (c) { e.appendChild(c); } });
  return e;
}

function link(text, url) {
  // Links leave Jira's iframe through the bridge (a new tab).
  return el('a', { href: url, text: text, onclick: function (ev) { ev.preventDefault(); router.open(url); } });
}

function call(method, path, body) {
  return invokeRemote({ method: method, path: path, body: body, headers: body ? { 'Content-Type': 'application/json' } : undefined })
    .then(function (res) {
      // @forge/bridge gives the body as parsed JSON; a body that comes as
      // text (not JSON, or from another bridge version) is parsed here.
      var out = res.body;
      if (typeof out === 'string' && out !== '') {
        try { out = JSON.parse(out); } catch (e) { /* keep the text */ }
      }
      if (res.status >= 200 && res.status < 300) { return out; }
      var err = (out && out.error) || { message: 'gitrelay did not answer (' + res.status + '). Try again in a moment.' };
      throw err;
    });
}

// showError renders gitrelay's error: the message and, for "setup
// required", the links to User settings and to the host's new-token page.
function showError(err) {
  var box = el('div', { 'class': 'error', role: 'alert' }, [el('p', { text: err.message || String(err) })]);
  if (err.setup_url) { box.appendChild(el('p', {}, [link('Open User settings', err.setup_url)])); }
  if (err.new_token_url) { box.appendChild(el('p', {}, [link('New token', err.new_token_url)])); }
  if (err.url) { box.appendChild(el('p', {}, [link('Open the existing one', err.url)])); }
  panel.insertBefore(box, panel.firstChild);
}

// showNotice says what an action did, once the panel is drawn again.
function showNotice(text) {
  panel.insertBefore(el('p', { 'class': 'notice', role: 'status', text: text }), panel.firstChild);
}

function path(p) { return '/forge/issues/' + encodeURIComponent(issueKey) + p; }

function load() {
  return call('GET', path('/development')).then(function (d) { dev = d; render(); }, function (err) {
    panel.textContent = '';
    showError(err);
  });
}

function render() {
  panel.textContent = '';
  var branches = el('ul');
  dev.branches.forEach(function (b) {
    branches.appendChild(el('li', {}, [
      link(b.name, b.url),
      el('span', { 'class': 'muted', text: b.repository + ' · as ' + (b.acted_as.via === 'user_token' ? b.acted_as.login : 'integration account') }),
      el('button', { type: 'button', text: 'Delete', onclick: function (ev) { deleteBranch(ev.currentTarget, b); } })
    ]));
  });
  var prs = el('ul');
  dev.pull_requests.forEach(function (p) {
    prs.appendChild(el('li', {}, [link('#' + p.number + ' ' + p.title, p.url), el('span', { 'class': 'muted', text: p.source + ' → ' + p.target })]));
  });
  panel.appendChild(el('h3', { text: 'Branches' }));
  panel.appendChild(dev.branches.length ? branches : el('p', { 'class': 'muted', text: 'No branches yet.' }));
  panel.appendChild(el('h3', { text: 'Pull requests' }));
  panel.appendChild(dev.pull_requests.length ? prs : el('p', { 'class': 'muted', text: 'No pull requests yet.' }));
  dev.integrations.forEach(function (i) {
    if (i.require_user_pat && i.user_token_status !== 'valid' && i.user_token_status !== 'expiring') {
      panel.appendChild(el('p', { 'class': 'muted' }, [
        document.createTextNode(i.name + ' acts with your own personal access token (' + i.user_token_status + '). '),
        link('Set it up in User settings', i.setup_url)
      ]));
    }
  });
  if (!dev.integrations.length) {
    panel.appendChild(el('p', { 'class': 'muted', text: 'No git integration is associated with this project yet. A Jira administrator can add one.' }));
    return;
  }
  panel.appendChild(el('div', { 'class': 'actions' }, [
    el('button', { type: 'button', text: 'Create branch', onclick: openCreateBranch }),
    document.createTextNode(' '),
    el('button', { type: 'button', text: 'Create pull request', onclick: openCreatePR })
  ]));
}

function form(id) {
  var f = document.getElementById('forms').content.getElementById(id).cloneNode(true);
  f.hidden = false;
  f.querySelector('[data-cancel]').addEventListener('click', render);
  panel.appendChild(f);
  return f;
}

function openCreateBranch() {
  render();
  var f = form('create-branch');
  var integ = f.elements.integration_id;
  dev.integrations.forEach(function (i) { integ.appendChild(el('option', { value: i.id, text: i.name })); });
  var search = function () {
    var repo = f.elements.repository_id;
    call('GET', '/forge/integrations/' + encodeURIComponent(integ.value) + '/repositories?q=' + encodeURIComponent(f.elements.repo_query.value))
      .then(function (list) {
        repo.textContent = '';
        list.forEach(function (r, n) { repo.appendChild(el('option', { value: r.id, text: r.full_name })); if (n === 0) { repo.value = r.id; } });
      }, showError);
  };
  var timer = null;
  f.elements.repo_query.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(search, 250); });
  integ.addEventListener('change', search);
  search();
  f.addEventListener('submit', function (ev) {
    ev.preventDefault();
    call('POST', path('/branches'), {
      integration_id: integ.value, repository_id: f.elements.repository_id.value,
      base: f.elements.base.value, name: f.elements.name.value
    }).then(function (res) {
      // A repeated request finds the branch already there: the same
      // success, said as what it is.
      return load().then(function () {
        showNotice(res.already_existed ? 'Branch ' + res.name + ' already existed at that base; it is listed below.'
          : 'Branch ' + res.name + ' was created.');
      });
    }, showError);
  });
}

function openCreatePR() {
  render();
  if (!dev.branches.length) { showError({ message: 'Create a branch for ' + issueKey + ' first.' }); return; }
  var f = form('create-pr');
  dev.branches.forEach(function (b, n) {
    f.elements.source.appendChild(el('option', { value: String(n), text: b.repository + ': ' + b.name }));
  });
  f.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var b = dev.branches[Number(f.elements.source.value)];
    call('POST', path('/pull-requests'), {
      integration_id: b.integration_id, repository_id: b.repository_id, source: b.name,
      target: f.elements.target.value, title: f.elements.title.value,
      description: f.elements.description.value, draft: f.elements.draft.checked
    }).then(function (res) {
      return load().then(function () { showNotice(res.note || 'Pull request #' + res.number + ' was created.'); });
    }, showError);
  });
}

// confirmAction asks for confirmation inline, in place of the button that
// was pressed: Forge runs this panel in a cross-origin iframe, where
// browsers no longer show window.confirm dialogs.
function confirmAction(button, question, yesLabel, onYes) {
  var box = el('span', { 'class': 'confirm', role: 'group', 'aria-label': question });
  box.appendChild(el('span', { text: question + ' ' }));
  box.appendChild(el('button', { type: 'button', 'class': 'danger', text: yesLabel, onclick: function () { box.replaceWith(button); onYes(); } }));
  box.appendChild(el('button', { type: 'button', text: 'Cancel', onclick: function () { box.replaceWith(button); button.focus(); } }));
  button.replaceWith(box);
  box.querySelector('button').focus();
}

function deleteBranch(button, b) {
  confirmAction(button, 'Delete branch ' + b.name + ' in ' + b.repository + '?', 'Delete branch', function () {
    call('DELETE', path('/branches'), { integration_id: b.integration_id, repository_id: b.repository_id, name: b.name })
      .then(load, showError);
  });
}

// The administration page (jira:adminPage) shares this bundle.
function renderAdmin() {
  panel.textContent = '';
  panel.appendChild(el('h3', { text: 'Integrations' }));
  var list = el('ul');
  panel.appendChild(list);
  call('GET', '/forge/integrations').then(function (ins) {
    if (!ins.length) { list.appendChild(el('li', { 'class': 'muted', text: 'No integrations yet.' })); }
    ins.forEach(function (i) {
      var box = el('input', { type: 'checkbox' });
      box.checked = i.require_user_pat;
      box.addEventListener('change', function () {
        call('PATCH', '/forge/integrations/' + encodeURIComponent(i.id), { require_user_pat: box.checked })
          .then(function (res) { (res.warnings || []).forEach(function (w) { showError({ message: w }); }); }, function (err) { box.checked = !box.checked; showError(err); });
      });
      list.appendChild(el('li', {}, [
        el('strong', { text: i.name }),
        el('span', { 'class': 'muted', text: i.kind + ' ' + i.base_url + ' · as ' + i.account.login }),
        el('label', { 'class': 'inline' }, [box, document.createTextNode('Require User PAT')]),
        el('button', { type: 'button', text: 'Delete', onclick: function (ev) {
          confirmAction(ev.currentTarget, 'Delete integration ' + i.name + ' and every user\'s token for it?', 'Delete integration', function () {
            call('DELETE', '/forge/integrations/' + encodeURIComponent(i.id)).then(renderAdmin, showError);
          });
        } })
      ]));
    });
  }, showError);

  var f = document.getElementById('forms').content.getElementById('create-integration').cloneNode(true);
  f.hidden = false;
  f.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var projects = f.elements.projects.value.split(',').map(function (p) { return p.trim().toUpperCase(); }).filter(Boolean);
    call('POST', '/forge/integrations', {
      kind: f.elements.kind.value, name: f.elements.name.value, base_url: f.elements.base_url.value,
      credential: { token: f.elements.token.value }, require_user_pat: f.elements.require_user_pat.checked,
      projects: projects.length ? projects : null
    }).then(renderAdmin, showError);
  });
  panel.appendChild(f);

  panel.appendChild(el('h3', { text: 'Development information sent to Jira' }));
  var status = el('div');
  panel.appendChild(status);
  call('GET', '/forge/admin/devinfo').then(function (d) {
    status.appendChild(el('p', { 'class': 'muted', text: d.queued.length + ' waiting to be sent' +
      (d.queued.length && d.queued[0].last_error ? ' (last error: ' + d.queued[0].last_error + ')' : '') + '.' }));
    var fl = el('ul');
    d.failures.forEach(function (x) {
      fl.appendChild(el('li', { text: x.at + ' ' + x.entity_type + ' ' + x.entity_id + ' ' + (x.issue_keys || []).join(',') + ': ' + x.reason }));
    });
    status.appendChild(d.failures.length ? fl : el('p', { 'class': 'muted', text: 'Jira accepted everything sent.' }));
  }, showError);

  panel.appendChild(el('h3', { text: 'Disconnect this site' }));
  panel.appendChild(el('button', { type: 'button', text: 'Remove all gitrelay data of this site', onclick: function (ev) {
    confirmAction(ev.currentTarget, 'Delete every integration, credential and personal access token of this Jira site from gitrelay?', 'Remove everything', function () {
      call('POST', '/forge/admin/uninstall').then(function () { panel.textContent = 'Disconnected. You can now uninstall the app.'; }, showError);
    });
  } }));
}

view.getContext().then(function (ctx) {
  if (ctx && ctx.moduleKey === 'gitrelay-admin') { renderAdmin(); return; }
  issueKey = ctx && ctx.extension && ctx.extension.issue ? ctx.extension.issue.key : '';
  if (!issueKey) { panel.textContent = 'This panel belongs on a Jira issue.'; return; }
  return load();
}, function (err) { panel.textContent = err.message; });
