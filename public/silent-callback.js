// Relays the authorization response (URL fragment) of a silent, prompt=none login to the parent
// window, and only to this app's own origin. The parent checks the origin, the source and the state.
(function () {
  "use strict";
  var fragment = window.location.hash;
  // Tokens never stay in this frame's URL or history.
  window.history.replaceState(null, "", window.location.pathname);
  if (window.parent && window.parent !== window) {
    window.parent.postMessage(
      { type: "authorization_response", fragment: fragment },
      window.location.origin
    );
  }
})();
