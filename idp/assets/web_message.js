// hashgate-idp: delivers a response_mode=web_message authorization response.
// The server puts the message and the exact target origin (a registered web
// origin of the client) in a JSON script element; this static script posts it to
// the window that opened or framed this page, and to that origin only.
(function () {
  "use strict";
  var element = document.getElementById("authorization-response");
  if (!element) {
    return;
  }
  var data = JSON.parse(element.textContent);
  var target = window.opener || (window.parent !== window ? window.parent : null);
  if (target) {
    target.postMessage(data.message, data.targetOrigin);
  }
})();
