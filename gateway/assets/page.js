// The gateway's only script, served from /assets with CSP script-src 'self'. It submits the connect
// form that takes the browser to the provider, and copies a shown-once token on a click.
'use strict';
document.addEventListener('DOMContentLoaded', function () {
  var usermap = document.getElementById('usermap');
  if (usermap && usermap.dataset.submitted !== 'yes') {
    usermap.dataset.submitted = 'yes';
    usermap.submit();
  }
  document.querySelectorAll('button[data-copy]').forEach(function (button) {
    var source = document.getElementById(button.dataset.copy);
    if (!source || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener('click', function () {
      navigator.clipboard.writeText(source.textContent.trim()).then(
        function () { button.textContent = 'Copied'; },
        function () { button.textContent = 'Copy failed: select the token and copy it by hand'; }
      );
    });
  });
});
