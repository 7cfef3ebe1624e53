/**
 * Logic that runs only for the implicit grant: Auth0 sets context.protocol to
 * 'oidc-implicit-profile' for implicit-grant requests (other flows use e.g.
 * 'oidc-basic-profile' or 'oauth2-refresh-token'). hashgate-idp serves the
 * implicit grant only, so here it always matches.
 */
function (user, context, callback) {
  if (context.protocol === 'oidc-implicit-profile') {
    context.idToken['https://hashgate.dev/grant'] = 'implicit';
  }
  callback(null, user, context);
}
