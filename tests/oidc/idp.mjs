// A real OpenID Provider (the `oidc-provider` package) for the gateway's browser test.
//   node idp.mjs PORT REDIRECT_URI
// Serves http://127.0.0.1:PORT as issuer with one confidential client `gateway` (secret
// `client-s3cret`, client_secret_basic, PKCE) and accounts with different claims. Its own dev
// login page takes any account id below as login (any password), then asks for consent.
import Provider from 'oidc-provider';

const [port, redirectUri] = process.argv.slice(2);
if (!port || !redirectUri) {
  console.error('usage: node idp.mjs PORT REDIRECT_URI');
  process.exit(2);
}

const accounts = {
  // Two factors would come from the login (amr); this IdP's dev login has none.
  ada: { given_name: 'Ada', family_name: 'Lovelace', email: 'ada@uni-a.example', email_verified: true,
         schac_home_organization: 'uni-a.example',
         eduperson_assurance: ['https://refeds.org/assurance/IAP/medium'] },
  bob: { given_name: 'Bob', family_name: 'Ørsted', email: 'bob@uni-b.example', email_verified: false,
         schac_home_organization: 'uni-b.example', eduperson_assurance: [] },
  carol: { given_name: 'Carol', family_name: 'Shaw', email: 'carol@uni-a.example',
           schac_home_organization: 'uni-a.example',
           eduperson_assurance: ['https://refeds.org/assurance/IAP/low'] },
};

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: 'gateway',
    client_secret: 'client-s3cret',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['given_name', 'family_name', 'schac_home_organization', 'eduperson_assurance'],
  },
  pkce: { required: () => true },
  cookies: { keys: ['gateway-test-idp'] },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    if (!accounts[id]) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...accounts[id] }; } };
  },
});

provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`oidc-provider listening on http://127.0.0.1:${port}`);
});
