// An independent OpenID provider for the SSO gateway's tests: Node's `oidc-provider` (panva),
// configured like any customer IdP would be. Browser-less interactions: the sign-in "page" is a
// JSON endpoint, `POST /interaction/{uid}/login {"login"}` signs in any login, and
// `POST /interaction/{uid}/deny` answers `access_denied` with Okta's policy message.
import http from 'node:http';
import { generateKeyPair, exportJWK } from 'jose';
import Provider from 'oidc-provider';

export const POLICY_FAILED = 'Policy evaluation failed for this request.';

async function signingKeys() {
  const keys = [];
  for (const [alg, kid] of [['RS256', 'rsa-1'], ['ES256', 'ec-1']]) {
    const { privateKey } = await generateKeyPair(alg, { extractable: true });
    keys.push({ ...(await exportJWK(privateKey)), kid, alg, use: 'sig' });
  }
  return keys;
}

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const text = Buffer.concat(chunks).toString();
  if ((req.headers['content-type'] ?? '').includes('application/json')) return JSON.parse(text || '{}');
  return Object.fromEntries(new URLSearchParams(text));
}

/**
 * Starts the provider on 127.0.0.1:`port` with one confidential client.
 * Returns { issuer, clientId, clientSecret, stop }.
 */
export async function startOidcProvider({ port, clientId = 'gatehouse-sso', clientSecret = 'oidc-provider-secret', redirectUris, idTokenAlg = 'RS256' }) {
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: idTokenAlg,
    }],
    jwks: { keys: await signingKeys() },
    cookies: { keys: ['e2e-cookie-key-not-secret'] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    ttl: { AccessToken: 600, AuthorizationCode: 60, Grant: 3600, IdToken: 600, Interaction: 600, Session: 3600 },
    async renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
    pkce: { required: () => true },
    async findAccount(ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          return { sub, email: `${sub}@customer.example`, email_verified: true, name: `User ${sub}` };
        },
      };
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    // No consent screen: grant what the client asks for (a customer IdP with admin consent).
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
  });
  const oidc = provider.callback();
  const server = http.createServer(async (req, res) => {
    const m = req.url.match(/^\/interaction\/([^/?]+)(?:\/(login|deny))?/);
    if (!m) return oidc(req, res);
    try {
      const [, , action] = m;
      if (req.method === 'GET' && !action) {
        const details = await provider.interactionDetails(req, res);
        res.setHeader('content-type', 'application/json');
        return res.end(JSON.stringify({ uid: details.uid, prompt: details.prompt.name, client_id: details.params.client_id }));
      }
      if (req.method === 'POST' && action === 'login') {
        const body = await readBody(req);
        return provider.interactionFinished(req, res, { login: { accountId: String(body.login) } }, { mergeWithLastSubmission: false });
      }
      if (req.method === 'POST' && action === 'deny') {
        return provider.interactionFinished(req, res, { error: 'access_denied', error_description: POLICY_FAILED }, { mergeWithLastSubmission: false });
      }
      res.statusCode = 404;
      return res.end();
    } catch (e) {
      res.statusCode = 400;
      res.setHeader('content-type', 'application/json');
      return res.end(JSON.stringify({ error: 'interaction_failed', message: String(e) }));
    }
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    issuer,
    clientId,
    clientSecret,
    stop: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}
