// Self-test of the loopback OIDC provider: `npm test --prefix tests/oidc` (node:test).
// Spawns server.mjs on a free port, exercises every endpoint, verifies tokens with jose.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

import * as jose from 'jose';

const AUD = 'urn:switchboard:api';
let child;
let issuer;
let stdoutLines = [];

before(async () => {
  const started = process.hrtime.bigint();
  child = spawn(process.execPath, [fileURLToPath(new URL('./server.mjs', import.meta.url)), '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr.resume();
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => stdoutLines.push(line));
  const [first] = await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(() => { throw new Error('server exited before READY'); }),
  ]);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  console.error(`# start-up (spawn to READY): ${ms.toFixed(0)} ms`);
  const match = /^READY (http:\/\/127\.0\.0\.1:\d+)$/.exec(first);
  assert.ok(match, `unexpected first line ${JSON.stringify(first)}`);
  [, issuer] = match;
});

after(() => {
  child?.kill('SIGTERM');
});

async function post(path, body) {
  const res = await fetch(`${issuer}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

const freshJwks = () => jose.createRemoteJWKSet(new URL(`${issuer}/jwks`), { cooldownDuration: 0 });

test('discovery and JWKS over plain http', async () => {
  const disc = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  assert.equal(disc.issuer, issuer);
  assert.equal(disc.jwks_uri, `${issuer}/jwks`);
  assert.equal(disc.token_endpoint, `${issuer}/token`);
  assert.ok(disc.grant_types_supported.includes('client_credentials'));
  const jwks = await (await fetch(disc.jwks_uri)).json();
  assert.deepEqual(jwks.keys.map((k) => [k.kty, k.alg, k.use]), [['RSA', 'RS256', 'sig'], ['EC', 'ES256', 'sig']]);
  assert.ok(jwks.keys.every((k) => typeof k.kid === 'string' && k.kid && !('d' in k)));
});

for (const alg of ['RS256', 'ES256']) {
  test(`/test/token ${alg} verifies against the JWKS`, async () => {
    const { status, body } = await post('/test/token', {
      sub: 'user-1', aud: AUD, alg, claims: { name: 'Ada', email: 'ada@example.com' },
    });
    assert.equal(status, 200);
    const { payload, protectedHeader } = await jose.jwtVerify(body.access_token, freshJwks(), {
      issuer, audience: AUD, algorithms: [alg],
    });
    assert.equal(protectedHeader.kid, body.signing_kid);
    assert.equal(payload.sub, 'user-1');
    assert.equal(payload.email, 'ada@example.com');
    assert.equal(payload.exp - payload.iat, 3600);
  });
}

test('unpublished key is refused, also under a published kid', async () => {
  const jwks = await (await fetch(`${issuer}/jwks`)).json();
  const own = await post('/test/token', { sub: 'mallory', unpublished: true });
  assert.equal(own.status, 200);
  assert.equal(own.body.published, false);
  await assert.rejects(jose.jwtVerify(own.body.access_token, freshJwks()), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
  const forged = await post('/test/token', { sub: 'mallory', unpublished: true, kid: jwks.keys[0].kid });
  assert.equal(forged.body.header.kid, jwks.keys[0].kid);
  await assert.rejects(jose.jwtVerify(forged.body.access_token, freshJwks()), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
});

test('noKid, expired, kid selection and errors', async () => {
  const noKid = await post('/test/token', { sub: 'u', alg: 'ES256', noKid: true });
  assert.equal(noKid.body.header.kid, undefined);
  // jose falls back to the only key of that type/alg.
  await jose.jwtVerify(noKid.body.access_token, freshJwks());
  const expired = await post('/test/token', { sub: 'u', expiresIn: -120 });
  await assert.rejects(jose.jwtVerify(expired.body.access_token, freshJwks()), { code: 'ERR_JWT_EXPIRED' });
  const jwks = await (await fetch(`${issuer}/jwks`)).json();
  const byKid = await post('/test/token', { sub: 'u', kid: jwks.keys[1].kid });
  assert.equal(byKid.body.header.alg, 'ES256');
  assert.equal((await post('/test/token', { alg: 'HS256' })).status, 400);
  assert.equal((await post('/test/token', { kid: 'nope' })).status, 400);
  assert.equal((await post('/test/nope', {})).status, 404);
});

test('client_credentials grant issues a JWT access token', async () => {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from('test-client:test-secret').toString('base64')}` },
    body: new URLSearchParams({
      grant_type: 'client_credentials', scope: 'api:read', test_sub: 'user-9', test_claims: '{"email":"u9@example.com"}',
    }),
  });
  assert.equal(res.status, 200);
  const body = await res.json();
  const { payload, protectedHeader } = await jose.jwtVerify(body.access_token, freshJwks(), {
    issuer, audience: AUD, typ: 'at+jwt',
  });
  assert.equal(protectedHeader.alg, 'RS256');
  assert.equal(payload.sub, 'user-9');
  assert.equal(payload.client_id, 'test-client');
  assert.equal(payload.scope, 'api:read');
  assert.equal(payload.email, 'u9@example.com');
});

test('rotation publishes a new RS256 key and signs with it', async () => {
  const keys0 = (await (await fetch(`${issuer}/jwks`)).json()).keys;
  const jwks = jose.createRemoteJWKSet(new URL(`${issuer}/jwks`), { cooldownDuration: 0 });
  const old = await post('/test/token', { sub: 'u' });
  await jose.jwtVerify(old.body.access_token, jwks); // caches the JWKS
  const rot = await post('/test/rotate', {});
  assert.equal(rot.status, 200);
  assert.notEqual(rot.body.kid, old.body.signing_kid);
  const keys1 = (await (await fetch(`${issuer}/jwks`)).json()).keys;
  assert.equal(keys1.length, keys0.length + 1);
  assert.ok(keys1.some((k) => k.kid === rot.body.kid));
  const next = await post('/test/token', { sub: 'u' });
  assert.equal(next.body.header.kid, rot.body.kid);
  await jose.jwtVerify(next.body.access_token, jwks); // unknown kid: jose re-fetches
  await jose.jwtVerify(old.body.access_token, jwks); // old key still published
  // The provider's own tokens follow the rotation too.
  const cc = await (await fetch(`${issuer}/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'test-client-post', client_secret: 'test-secret' }),
  })).json();
  assert.equal(jose.decodeProtectedHeader(cc.access_token).kid, rot.body.kid);
  // retire: older RS256 keys leave the JWKS.
  const rot2 = await post('/test/rotate', { retire: true });
  const keys2 = (await (await fetch(`${issuer}/jwks`)).json()).keys;
  assert.deepEqual(keys2.filter((k) => k.alg === 'RS256').map((k) => k.kid), [rot2.body.kid]);
  await assert.rejects(jose.jwtVerify(old.body.access_token, freshJwks()), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
});

test('stdout carried only the READY line', () => {
  assert.equal(stdoutLines.length, 1);
});
