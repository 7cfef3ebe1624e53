/**
 * Adds the user's roles (app_metadata.roles, which Auth0 also exposes as
 * context.authorization.roles) to the ID token and the access token under a
 * namespaced claim. The Hashgate profile page shows them as chips.
 *
 * Runs unchanged on Auth0 (Auth Pipeline > Rules).
 */
function addRolesToTokens(user, context, callback) {
  const namespace = 'https://hashgate.dev/';
  const roles = (user.app_metadata && user.app_metadata.roles) || [];
  context.idToken[namespace + 'roles'] = roles;
  context.accessToken[namespace + 'roles'] = roles;
  callback(null, user, context);
}
