import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../kernel/errors.js';
import { isPrivateAddress, resolveWebhookTarget } from './ssrf.js';

describe('isPrivateAddress', () => {
  it.each([
    '127.0.0.1',
    '127.255.0.9',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fc00::1',
    'fd12:3456::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    '::ffff:a9fe:a9fe',
    '64:ff9b::127.0.0.1',
    '64:ff9b::a9fe:a9fe',
    // IPv6 transition forms embedding an internal IPv4 address.
    '::127.0.0.1',
    '::7f00:1',
    '::10.0.0.1',
    '::ffff:0:127.0.0.1',
    '::ffff:0:a9fe:a9fe',
    '64:ff9b:1::7f00:1',
    '64:ff9b:1::808:808',
    '2002:7f00:1::1',
    '2002:a9fe:a9fe::1',
    '2002:c0a8:101::1',
    '2001:0:4136:e378:8000:63bf:3fff:fdd2',
    '2001:db8::1',
    '100::1',
    '1::1',
    '[::1]',
    'fe80::1%eth0',
    'not-an-ip',
  ])('refuses %s', (address) => {
    expect(isPrivateAddress(address)).toBe(true);
  });

  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e', '::ffff:8.8.8.8', '::ffff:0:8.8.8.8', '::8.8.8.8', '64:ff9b::808:808', '2002:808:808::1'])('allows %s', (address) => {
    expect(isPrivateAddress(address)).toBe(false);
  });
});

describe('resolveWebhookTarget', () => {
  const lookup = (answers: Record<string, string[]>) => async (host: string) =>
    (answers[host] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

  it('refuses a name that resolves to a private address, and a name with any private address', async () => {
    const l = lookup({ 'internal.example': ['10.0.0.5'], 'mixed.example': ['93.184.216.34', '127.0.0.1'] });
    for (const url of ['https://internal.example/hook', 'https://mixed.example/hook']) {
      await expect(resolveWebhookTarget(url, { allowPrivate: false, lookup: l })).rejects.toBeInstanceOf(InvalidInputError);
    }
  });

  it('returns the checked address to connect to', async () => {
    const target = await resolveWebhookTarget('https://public.example/hook', { allowPrivate: false, lookup: lookup({ 'public.example': ['93.184.216.34'] }) });
    expect(target).toMatchObject({ address: '93.184.216.34', family: 4 });
    expect(target.url.hostname).toBe('public.example');
  });

  it('refuses literal private addresses, in every spelling', async () => {
    for (const url of [
      'http://127.0.0.1:8080/',
      'http://[::1]/',
      'http://[::ffff:127.0.0.1]/',
      'http://[::127.0.0.1]/',
      'http://[::ffff:0:127.0.0.1]/',
      'http://[64:ff9b:1::7f00:1]/',
      'http://[2002:7f00:1::1]/',
      'http://[2002:a9fe:a9fe::1]/',
      'http://169.254.169.254/latest/meta-data',
      'http://0x7f000001/',
      'http://2130706433/',
      'http://0177.0.0.1/',
    ]) {
      await expect(resolveWebhookTarget(url, { allowPrivate: false, lookup: lookup({}) }), url).rejects.toBeInstanceOf(InvalidInputError);
    }
  });

  it('allows private addresses only when configured to', async () => {
    await expect(resolveWebhookTarget('http://127.0.0.1:8080/', { allowPrivate: true })).resolves.toMatchObject({ address: '127.0.0.1' });
  });

  it('refuses names that do not resolve and URLs of other schemes or with credentials', async () => {
    await expect(resolveWebhookTarget('https://nowhere.example/', { allowPrivate: false, lookup: lookup({}) })).rejects.toThrow(/does not resolve/);
    await expect(resolveWebhookTarget('file:///etc/passwd', { allowPrivate: true })).rejects.toThrow(/https or http/);
    await expect(resolveWebhookTarget('https://a:b@example.com/', { allowPrivate: true })).rejects.toThrow(/credentials/);
  });
});
