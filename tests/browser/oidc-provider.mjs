// A real OpenID Connect provider on loopback (npm `oidc-provider`, the
// certified Node implementation), shaped like ProConnect: the scopes
// `email`, `given_name`, `usual_name`, `siret`, PKCE required, the user
// info answered as a signed JWT. Its development login page takes any
// login; the account it signs in has the claims `claims(login)` gives.
import Provider from '../../web/node_modules/oidc-provider/lib/index.js';

export async function startProvider({ port, clientId, clientSecret, redirect, claims }) {
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId, client_secret: clientSecret, redirect_uris: [redirect],
      grant_types: ['authorization_code'], response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic', userinfo_signed_response_alg: 'RS256',
    }],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], given_name: ['given_name'], usual_name: ['usual_name'], siret: ['siret'] },
    features: { devInteractions: { enabled: true }, jwtUserinfo: { enabled: true } },
    pkce: { required: () => true },
    findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub, ...claims(sub) }) }),
  });
  const server = await new Promise((resolve) => {
    const s = provider.listen(port, '127.0.0.1', () => resolve(s));
  });
  return { issuer, close: () => new Promise((resolve) => server.close(resolve)) };
}
