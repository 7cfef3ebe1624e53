/**
 * Refuses logins from one email domain. The app receives
 * error=unauthorized&error_description=<the message> and shows it.
 *
 * Try it with the demo user mallory / mallory-password (mallory@blocked.example).
 * The domain comes from the rules configuration (BLOCKED_DOMAIN in
 * [rules.configuration] of hashgate-idp.toml, or the Rules "Settings" on Auth0).
 */
function (user, context, callback) {
  const blocked = (configuration.BLOCKED_DOMAIN || 'blocked.example').toLowerCase();
  const email = (user.email || '').toLowerCase();
  if (email.endsWith('@' + blocked)) {
    return callback(new UnauthorizedError('Accounts from ' + blocked + ' may not sign in to this app.'));
  }
  callback(null, user, context);
}
