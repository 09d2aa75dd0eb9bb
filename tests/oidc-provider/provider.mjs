// A real OpenID provider for the console's sign-in tests: the npm package `oidc-provider`
// (OpenID Certified), on loopback over HTTPS with the test certificate, with two people,
// fatma and ali, their groups and fatma's manager claim, and one client, elevator, whose
// back-channel logout URI is the console's. `.ci/test` installs the package into
// target/test-tools/oidc-provider; the tests start this script with:
//
//   node provider.mjs <module> <port> <console base URL> <cert> <key>
//
// and wait for its "listening" line. Test-only: every secret here is public.

import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { pathToFileURL } from 'node:url';

const [modulePath, port, consoleBase, certFile, keyFile] = process.argv.slice(2);
const { default: Provider } = await import(pathToFileURL(modulePath).href);

const people = {
  fatma: { name: 'Fatma', groups: ['procurement-staff'], manager: 'ali' },
  ali: { name: 'Ali', groups: ['procurement-managers'] },
};

const issuer = `https://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [{
    client_id: 'elevator',
    client_secret: 'elevator-test-client-secret',
    redirect_uris: [`${consoleBase}/console/oidc/callback`],
    post_logout_redirect_uris: [`${consoleBase}/console/login`],
    backchannel_logout_uri: `${consoleBase}/console/oidc/backchannel-logout`,
    backchannel_logout_session_required: true,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  claims: {
    openid: ['sub'],
    profile: ['name'],
    groups: ['groups', 'manager'],
  },
  scopes: ['openid', 'profile', 'groups'],
  // Put the scopes' claims in the ID token (the console reads the ID token only).
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: true },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  pkce: { required: () => true },
  // oidc-provider refuses to call loopback addresses (SSRF protection); here the console's
  // back-channel logout URI is on loopback by design, so its outgoing calls go out plainly.
  fetch: (url, options) => {
    delete options.dispatcher;
    return globalThis.fetch(url, options);
  },
  cookies: { keys: ['oidc-provider-test-cookie-key'] },
  async findAccount(ctx, id) {
    const person = people[id];
    if (!person) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...person }) };
  },
  // elevator is a first-party client: no consent screen.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile groups');
    await grant.save();
    return grant;
  },
});

const server = createServer(
  { cert: readFileSync(certFile), key: readFileSync(keyFile) },
  provider.callback(),
);
server.listen(Number(port), '127.0.0.1', () => console.log(`listening ${issuer}`));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();

// What happened to each back-channel logout, for a failing test to show.
provider.on('backchannel.success', (ctx, client, accountId, sid) => {
  console.error(`backchannel.success ${client.clientId} ${accountId} ${sid}`);
});
provider.on('backchannel.error', (ctx, error, client, accountId, sid) => {
  console.error(`backchannel.error ${client.clientId} ${accountId} ${sid}: ${error}`);
});
provider.on('server_error', (ctx, error) => console.error(`server_error: ${error}`));
