// Loopback OpenID Connect provider for integration tests.
//
//   node server.mjs [PORT]        (PORT 0 or absent: pick a free port)
//
// Listens on 127.0.0.1 only, issuer http://127.0.0.1:<port>, and prints exactly one line
// `READY <issuer>` to stdout once listening. Everything else goes to stderr.
//
// Built on oidc-provider (discovery, JWKS, token endpoint with the client_credentials grant
// issuing JWT access tokens) plus test-only endpoints under /test/ that mint JWTs with the
// provider's own keys, with unpublished keys, and rotate the signing keys. See README.md.
//
// Test fixture only: it accepts any subject, audience and claims. Never expose it.

import { once } from 'node:events';
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { promisify } from 'node:util';

import * as jose from 'jose';

// Imported in main(), concurrently with key generation (which runs on the libuv thread pool).
let Provider;
let providerErrors;

// stdout carries exactly one line (READY ...). oidc-provider prints notices with console.info;
// send every console stream to stderr before anything else can write.
for (const method of ['log', 'info', 'debug']) {
  // eslint-disable-next-line no-console
  console[method] = console.error;
}

const HOST = '127.0.0.1';
const DEFAULT_AUDIENCE = process.env.OIDC_TEST_AUDIENCE || 'urn:switchboard:api';
const CLIENT_ID = process.env.OIDC_TEST_CLIENT_ID || 'test-client';
const CLIENT_SECRET = process.env.OIDC_TEST_CLIENT_SECRET || 'test-secret';
const RESOURCE_SCOPES = 'api:read api:write';
const DEFAULT_TTL = 3600;
const MAX_BODY = 64 * 1024;

const generateKeyPair = promisify(crypto.generateKeyPair);

const portArg = process.argv[2] ?? '0';
const requestedPort = Number(portArg);
if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65535) {
  console.error(`invalid port ${JSON.stringify(portArg)}`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

/** A signing key: private KeyObject, private JWK (for oidc-provider), public JWK (published). */
async function newKey(alg, kidPrefix) {
  const { privateKey } = alg === 'RS256'
    ? await generateKeyPair('rsa', { modulusLength: 2048 })
    : await generateKeyPair('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  const publicJwk = crypto.createPublicKey(privateKey).export({ format: 'jwk' });
  const thumbprint = await jose.calculateJwkThumbprint(publicJwk);
  const kid = `${kidPrefix}-${alg.toLowerCase()}-${thumbprint.slice(0, 12)}`;
  return {
    alg,
    kid,
    privateKey,
    privateJwk: { ...jwk, kid, alg, use: 'sig' },
  };
}

// Published keys, in publication order (oidc-provider picks the first matching key, so the
// current signing key of each algorithm is kept first among its algorithm).
let published = [];
// Current default signing key per algorithm.
const current = {};
// Keys that are never published, for forged-token tests.
const unpublished = {};

// ---------------------------------------------------------------------------------------------
// Provider
// ---------------------------------------------------------------------------------------------

function orderedJwks() {
  const first = [current.RS256, current.ES256];
  const rest = published.filter((k) => !first.includes(k));
  return { keys: [...first, ...rest].map((k) => k.privateJwk) };
}

function buildProvider(issuer) {
  const provider = new Provider(issuer, {
    jwks: orderedJwks(),
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: RESOURCE_SCOPES,
      },
      {
        client_id: `${CLIENT_ID}-post`,
        client_secret: CLIENT_SECRET,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_post',
        scope: RESOURCE_SCOPES,
      },
    ],
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    scopes: ['openid', 'offline_access', ...RESOURCE_SCOPES.split(' ')],
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
    features: {
      devInteractions: { enabled: false },
      introspection: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // No `resource` parameter: the default audience.
        defaultResource: async () => DEFAULT_AUDIENCE,
        // Any absolute URI is accepted as a resource; it becomes the token's `aud`.
        getResourceServerInfo: async (_ctx, resourceIndicator) => ({
          scope: RESOURCE_SCOPES,
          audience: resourceIndicator,
          accessTokenTTL: DEFAULT_TTL,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256', kid: current.RS256.kid } },
        }),
        useGrantedResource: async () => true,
      },
    },
    formats: {
      customizers: {
        // Test-only token endpoint parameters: test_sub (replaces sub, default client_id) and
        // test_claims (a JSON object merged into the payload).
        jwt: async (ctx, _token, jwt) => {
          const body = ctx?.oidc?.body ?? {};
          if (typeof body.test_sub === 'string' && body.test_sub) {
            jwt.payload.sub = body.test_sub;
          }
          if (typeof body.test_claims === 'string' && body.test_claims) {
            let extra;
            try {
              extra = JSON.parse(body.test_claims);
            } catch {
              extra = undefined;
            }
            if (!extra || typeof extra !== 'object' || Array.isArray(extra)) {
              throw new providerErrors.InvalidRequest('test_claims must be a JSON object');
            }
            Object.assign(jwt.payload, extra);
          }
        },
      },
    },
    ttl: {
      AccessToken: DEFAULT_TTL,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? DEFAULT_TTL,
      Grant: 3600,
      Interaction: 600,
      Session: 3600,
      IdToken: 3600,
    },
  });
  return provider;
}

// ---------------------------------------------------------------------------------------------
// Test endpoints
// ---------------------------------------------------------------------------------------------

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, 'body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'body is not valid JSON');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new HttpError(400, 'body must be a JSON object');
  }
  return value;
}

function sendJson(res, status, body) {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

async function mintToken(issuer, body) {
  const alg = body.alg ?? 'RS256';
  if (alg !== 'RS256' && alg !== 'ES256') throw new HttpError(400, 'alg must be "RS256" or "ES256"');
  if (body.sub !== undefined && typeof body.sub !== 'string') throw new HttpError(400, 'sub must be a string');
  if (body.claims !== undefined && (body.claims === null || typeof body.claims !== 'object' || Array.isArray(body.claims))) {
    throw new HttpError(400, 'claims must be a JSON object');
  }
  if (body.kid !== undefined && typeof body.kid !== 'string') throw new HttpError(400, 'kid must be a string');
  const expiresIn = body.expiresIn ?? DEFAULT_TTL;
  if (!Number.isInteger(expiresIn)) throw new HttpError(400, 'expiresIn must be an integer number of seconds (negative: already expired)');

  let key;
  let headerKid;
  if (body.unpublished) {
    // Never published; the header carries `kid` when given (e.g. a published kid, to forge a
    // token that names a real key), else the unpublished key's own kid.
    key = unpublished[alg];
    headerKid = body.kid ?? key.kid;
  } else if (body.kid !== undefined) {
    key = published.find((k) => k.kid === body.kid);
    if (!key) throw new HttpError(400, `no published key with kid ${JSON.stringify(body.kid)}`);
    // Without `alg` the key's own algorithm is used.
    if (body.alg !== undefined && key.alg !== alg) {
      throw new HttpError(400, `key ${body.kid} is ${key.alg}, not ${alg}`);
    }
    headerKid = key.kid;
  } else {
    key = current[alg];
    headerKid = key.kid;
  }
  const signAlg = key.alg;

  const now = Math.floor(Date.now() / 1000);
  const payload = {
    iss: issuer,
    sub: body.sub ?? 'test-user',
    aud: body.aud ?? DEFAULT_AUDIENCE,
    iat: now,
    exp: now + expiresIn,
    jti: crypto.randomUUID(),
    ...body.claims,
  };
  // Explicit null in claims removes a standard claim (e.g. {"claims": {"exp": null}}).
  for (const [name, value] of Object.entries(payload)) {
    if (value === null) delete payload[name];
  }

  const header = { alg: signAlg };
  if (body.typ !== null) header.typ = body.typ ?? 'at+jwt';
  if (!body.noKid) header.kid = headerKid;

  const token = await new jose.SignJWT(payload).setProtectedHeader(header).sign(key.privateKey);
  return {
    access_token: token,
    token_type: 'Bearer',
    expires_in: expiresIn,
    header,
    payload,
    signing_kid: key.kid,
    published: !body.unpublished,
  };
}

async function rotate(state, body) {
  const alg = body.alg ?? 'RS256';
  if (alg !== 'RS256' && alg !== 'ES256') throw new HttpError(400, 'alg must be "RS256" or "ES256"');
  const key = await newKey(alg, 'rotated');
  const previous = current[alg];
  if (body.retire) {
    // Unpublish every older key of this algorithm.
    published = published.filter((k) => k.alg !== alg);
  }
  published.push(key);
  current[alg] = key;
  state.provider = buildProvider(state.issuer);
  state.callback = state.provider.callback();
  return {
    kid: key.kid,
    alg,
    previous_kid: previous.kid,
    retired: Boolean(body.retire),
    published_kids: orderedJwks().keys.map((k) => k.kid),
  };
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

async function main() {
  const [rs, es, urs, ues, providerModule] = await Promise.all([
    newKey('RS256', 'test'),
    newKey('ES256', 'test'),
    newKey('RS256', 'unpublished'),
    newKey('ES256', 'unpublished'),
    import('oidc-provider'),
  ]);
  Provider = providerModule.default;
  providerErrors = providerModule.errors;
  published = [rs, es];
  current.RS256 = rs;
  current.ES256 = es;
  unpublished.RS256 = urs;
  unpublished.ES256 = ues;

  const state = { issuer: undefined, provider: undefined, callback: undefined };

  const server = http.createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (!path.startsWith('/test/')) {
      state.callback(req, res);
      return;
    }
    try {
      if (req.method !== 'POST') throw new HttpError(405, 'use POST');
      const body = await readJson(req);
      if (path === '/test/token') {
        sendJson(res, 200, await mintToken(state.issuer, body));
      } else if (path === '/test/rotate') {
        sendJson(res, 200, await rotate(state, body));
      } else {
        throw new HttpError(404, 'unknown test endpoint');
      }
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 500;
      if (status === 500) console.error(err);
      sendJson(res, status, { error: err.message });
    }
  });

  server.listen(requestedPort, HOST);
  await once(server, 'listening');
  const { port } = server.address();
  state.issuer = `http://${HOST}:${port}`;
  state.provider = buildProvider(state.issuer);
  state.callback = state.provider.callback();

  const shutdown = () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  if (process.env.OIDC_TEST_EXIT_ON_STDIN_EOF === '1') {
    process.stdin.on('end', shutdown);
    process.stdin.on('error', shutdown);
    process.stdin.resume();
  }

  process.stdout.write(`READY ${state.issuer}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
