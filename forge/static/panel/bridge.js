// The two calls of @forge/bridge (7.x) this panel needs, without a build
// step: Custom UI talks to Jira through window.__bridge.callBridge, which
// Forge injects into the panel's iframe. invokeRemote sends the request to
// the gitrelay remote (Forge adds the invocation token and the app's tokens)
// and resolves to {status, headers, body}.
(function () {
  'use strict';
  function callBridge(name, payload) {
    var b = window.__bridge;
    if (!b || !b.callBridge) {
      return Promise.reject(new Error('This page only works inside Jira (the Forge bridge is missing).'));
    }
    return b.callBridge(name, payload);
  }
  function invokeRemote(input) {
    return callBridge('invoke', Object.assign({}, input, { invokeType: 'ui-remote-fetch' })).then(function (res) {
      var out = Object.assign({}, res && (res.success ? res.payload : res.error));
      if (typeof out.body === 'string' && out.body !== '') {
        try { out.body = JSON.parse(out.body); } catch (e) { /* keep the text */ }
      }
      return out;
    });
  }
  window.gitrelayBridge = {
    invokeRemote: invokeRemote,
    getContext: function () { return callBridge('getContext'); },
    open: function (url) { return callBridge('navigate', { url: url, type: 'new-tab' }); }
  };
})();
