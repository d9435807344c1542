import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { generateWebhookSecret, signWebhookPayload, verifyWebhookSignature, webhookHeaders } from './standard-webhooks.js';

describe('Standard Webhooks signing', () => {
  it('matches the reference implementation byte for byte', () => {
    const secret = generateWebhookSecret();
    const ts = 1_700_000_000;
    const body = '{"type":"user.locked","timestamp":"2023-11-14T22:13:20.000Z","data":{"userId":"usr_1"}}';
    expect(signWebhookPayload(secret, 'evt_1', ts, body)).toBe(new Webhook(secret).sign('evt_1', new Date(ts * 1000), body));
  });

  it('matches the specification example', () => {
    // From the Standard Webhooks spec's test vectors (libraries/javascript tests).
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const sig = signWebhookPayload(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}');
    expect(sig).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('produces headers the reference verifier accepts, with one signature per secret', () => {
    const a = generateWebhookSecret();
    const b = generateWebhookSecret();
    const now = Math.floor(Date.now() / 1000);
    const body = '{"type":"webhook.test"}';
    const headers = webhookHeaders([a, b], 'evt_2', now, body);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(new Webhook(a).verify(body, headers)).toEqual({ type: 'webhook.test' });
    expect(new Webhook(b).verify(body, headers)).toEqual({ type: 'webhook.test' });
    expect(verifyWebhookSignature(b, { id: 'evt_2', timestamp: String(now), signature: headers['webhook-signature'] }, body, now)).toBe(true);
  });

  it('refuses a tampered body, another secret, and an old timestamp (replay)', () => {
    const secret = generateWebhookSecret();
    const now = 1_700_000_000;
    const h = webhookHeaders([secret], 'evt_3', now, '{"a":1}');
    const headers = { id: 'evt_3', timestamp: h['webhook-timestamp'], signature: h['webhook-signature'] };
    expect(verifyWebhookSignature(secret, headers, '{"a":2}', now)).toBe(false);
    expect(verifyWebhookSignature(generateWebhookSecret(), headers, '{"a":1}', now)).toBe(false);
    expect(verifyWebhookSignature(secret, headers, '{"a":1}', now + 301)).toBe(false);
    expect(verifyWebhookSignature(secret, headers, '{"a":1}', now + 299)).toBe(true);
  });

  it('generates 24-byte secrets with the whsec_ prefix', () => {
    const s = generateWebhookSecret();
    expect(s).toMatch(/^whsec_/);
    expect(Buffer.from(s.slice(6), 'base64')).toHaveLength(24);
    expect(generateWebhookSecret()).not.toBe(s);
  });
});
