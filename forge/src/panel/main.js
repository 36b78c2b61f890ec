// The bundle's entry point. @forge/bridge reaches for the bridge Forge
// injects into the panel's iframe as soon as it is loaded, and throws when
// there is none (the page opened outside Jira): loading the panel lazily
// turns that into a sentence on the page instead of a panel stuck loading.
import('./panel.js').catch(function (err) {
  console.error(err);
  document.getElementById('panel').textContent = 'This page only works inside Jira (the Forge bridge is missing).';
});
