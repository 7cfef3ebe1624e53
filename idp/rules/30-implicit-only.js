/**
 * Logic that runs only for the implicit grant: Auth0 sets context.protocol to
 * 'oidc-implicit-profile' for implicit-grant requests, 'oidc-basic-profile' for
 * the authorization code flow and 'oauth2-refresh-token' for refresh-token
 * exchanges; hashgate-idp does the same. Logins with the code flow therefore
 * get no grant claim.
 */
function (user, context, callback) {
  if (context.protocol === 'oidc-implicit-profile') {
    context.idToken['https://hashgate.dev/grant'] = 'implicit';
  }
  callback(null, user, context);
}
