import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, configVariables, loadConfig, variableNames } from './config.js';

describe('loadConfig', () => {
  it('serves one machine with no setup', () => {
    const c = loadConfig({});
    expect(c.database.provider).toBe('sqlite');
    expect(c.database.url).toBe(`file:${path.resolve('data', 'portcullis.db')}`);
    expect(c).toMatchObject({ host: '127.0.0.1', port: 4000, graphiql: true, env: 'development' });
    expect(c.lockout).toEqual({ passwordAttempts: 10, codeAttempts: 10, durationSeconds: 3600 });
    expect(c.passwords.argon2).toEqual({ memoryCost: 19456, timeCost: 2, parallelism: 1 });
    expect(c.webhooks.retryScheduleSeconds).toEqual([0, 5, 300, 1800, 7200, 18000, 36000, 36000]);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('switches to PostgreSQL by URL and then requires a shared encryption key', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgresql://db/portcullis' })).toThrow(ConfigError);
    const key = Buffer.alloc(32, 1).toString('hex');
    const c = loadConfig({ DATABASE_URL: 'postgresql://db/portcullis', PORTCULLIS_ENCRYPTION_KEY: key });
    expect(c.database.provider).toBe('postgresql');
    expect(c.encryptionKey).toEqual(Buffer.alloc(32, 1));
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ PORT: '', REDIS_URL: '' })).toMatchObject({ port: 4000, redisUrl: undefined });
  });

  it.each([
    ['PORT', '70000'],
    ['PORTCULLIS_ENCRYPTION_KEY', 'c2hvcnQ='],
    ['PORTCULLIS_BOOTSTRAP_API_KEY', 'too-short'],
    ['REDIS_URL', 'http://cache'],
    ['PORTCULLIS_WEBHOOK_RETRY_SCHEDULE', '0,5,soon'],
    ['PORTCULLIS_DEFAULT_PHONE_REGION', 'usa'],
    ['PORTCULLIS_CORS_ORIGINS', '*'],
    ['PORTCULLIS_CORS_ORIGINS', 'https://app.example.com/'],
    ['PORTCULLIS_CORS_ORIGINS', 'https://app.example.com, null'],
    ['PORTCULLIS_CORS_ORIGINS', 'app.example.com'],
    ['PORTCULLIS_MAX_SUBSCRIPTIONS_PER_SOCKET', '0'],
    ['PORTCULLIS_DELIVERY_HOOK_SECRET', 'short-secret'],
    ['PORTCULLIS_DELIVERY_HOOK_SECRET', `whsec_${Buffer.alloc(15, 1).toString('base64')}`],
    ['PORTCULLIS_DELIVERY_HOOK_SECRET', 'whsec_not base64, not at all'],
    ['PORTCULLIS_DELIVERY_HOOK_SECRET', 'hook-secret-ü-0123456789'],
  ])('names the variable in the error: %s=%s', (name, value) => {
    try {
      loadConfig({ [name]: value });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).variable).toBe(name);
    }
  });

  it('accepts a delivery hook secret of 16 bytes in either form, whsec_<base64> or plain ASCII', () => {
    for (const secret of [`whsec_${Buffer.alloc(16, 1).toString('base64')}`, 'hook-secret-0123']) {
      expect(loadConfig({ PORTCULLIS_DELIVERY_HOOK_SECRET: secret }).delivery.hook.secret).toBe(secret);
    }
  });

  it('says which bound a number breaks', () => {
    expect(() => loadConfig({ PORTCULLIS_ARGON2_MEMORY_KIB: '8' })).toThrow('PORTCULLIS_ARGON2_MEMORY_KIB: expected at least 1024');
    expect(() => loadConfig({ PORT: '70000' })).toThrow('PORT: expected at most 65535');
    expect(() => loadConfig({ PORT: '4.5' })).toThrow('PORT: expected a whole number');
  });

  it('holds the argon2id parameters to the ceilings above which no hash is verified', () => {
    expect(() => loadConfig({ PORTCULLIS_ARGON2_MEMORY_KIB: '524289' })).toThrow('PORTCULLIS_ARGON2_MEMORY_KIB: expected at most 524288');
    expect(() => loadConfig({ PORTCULLIS_ARGON2_ITERATIONS: '11' })).toThrow('PORTCULLIS_ARGON2_ITERATIONS: expected at most 10');
    expect(() => loadConfig({ PORTCULLIS_ARGON2_PARALLELISM: '17' })).toThrow('PORTCULLIS_ARGON2_PARALLELISM: expected at most 16');
  });

  it('serves GraphiQL outside production, and in production only when asked', () => {
    const production = { NODE_ENV: 'production', PORTCULLIS_ALLOW_CONSOLE_DELIVERY: 'true' };
    expect(loadConfig({}).graphiql).toBe(true);
    expect(loadConfig(production).graphiql).toBe(false);
    expect(loadConfig({ ...production, PORTCULLIS_GRAPHIQL: 'true' }).graphiql).toBe(true);
    expect(loadConfig({ PORTCULLIS_GRAPHIQL: 'false' }).graphiql).toBe(false);
  });

  it('refuses a minimum password length above the maximum', () => {
    expect(() => loadConfig({ PORTCULLIS_PASSWORD_MIN_LENGTH: '200', PORTCULLIS_PASSWORD_MAX_LENGTH: '100' })).toThrow(/PORTCULLIS_PASSWORD_MIN_LENGTH/);
  });

  // Threat: console delivery in production writes reset and verification codes to the log
  // while the API reports them as sent; whoever reads the logs can take over accounts.
  it('refuses console delivery in production unless explicitly allowed, naming the variable', () => {
    const refusal = (env: Record<string, string>) => {
      try {
        loadConfig({ NODE_ENV: 'production', ...env });
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).message;
      }
      return undefined;
    };
    expect(refusal({})).toMatch(/^PORTCULLIS_EMAIL_DELIVERY: is console .*PORTCULLIS_ALLOW_CONSOLE_DELIVERY=true/);
    expect(refusal({ PORTCULLIS_EMAIL_DELIVERY: 'smtp' })).toMatch(/^PORTCULLIS_SMS_DELIVERY: is console/);
    expect(refusal({ PORTCULLIS_EMAIL_DELIVERY: 'console', PORTCULLIS_SMS_DELIVERY: 'twilio' })).toMatch(/^PORTCULLIS_EMAIL_DELIVERY: /);
    expect(refusal({ PORTCULLIS_ALLOW_CONSOLE_DELIVERY: 'false' })).toMatch(/^PORTCULLIS_EMAIL_DELIVERY: /);
    // Real senders, an explicit allowance, or another environment start as before.
    expect(refusal({ PORTCULLIS_EMAIL_DELIVERY: 'smtp', PORTCULLIS_SMS_DELIVERY: 'http' })).toBeUndefined();
    expect(refusal({ PORTCULLIS_ALLOW_CONSOLE_DELIVERY: 'true' })).toBeUndefined();
    expect(loadConfig({ NODE_ENV: 'development' }).delivery).toMatchObject({ email: 'console', sms: 'console' });
    expect(() => loadConfig({ PORTCULLIS_ALLOW_CONSOLE_DELIVERY: 'sure' })).toThrow(/^PORTCULLIS_ALLOW_CONSOLE_DELIVERY: /);
  });

  it('reads CORS origins as an allowlist of normalized origins, empty by default', () => {
    expect(loadConfig({}).corsOrigins).toEqual([]);
    expect(loadConfig({ PORTCULLIS_CORS_ORIGINS: 'https://App.Example.com, http://localhost:3000,' }).corsOrigins).toEqual([
      'https://app.example.com',
      'http://localhost:3000',
    ]);
    expect(loadConfig({}).limits.maxSubscriptionsPerSocket).toBe(50);
  });

  it('takes a passkey link URL template only as an http(s) URL with {code}', () => {
    expect(loadConfig({}).webauthn.registrationLinkUrl).toBeUndefined();
    const ok = 'https://app.example.com/passkeys?user={userId}&code={code}';
    expect(loadConfig({ PORTCULLIS_PASSKEY_LINK_URL: ok }).webauthn.registrationLinkUrl).toBe(ok);
    expect(loadConfig({ PORTCULLIS_PASSKEY_LINK_URL: 'http://localhost:3000/p/{code}' }).webauthn.registrationLinkUrl).toBe('http://localhost:3000/p/{code}');
    const refused = (url: string) => () => loadConfig({ PORTCULLIS_PASSKEY_LINK_URL: url });
    expect(refused('https://app.example.com/passkeys?user={userId}')).toThrow('PORTCULLIS_PASSKEY_LINK_URL: must contain {code}');
    expect(refused('https://app.example.com/p?u={user_id}&c={code}')).toThrow('PORTCULLIS_PASSKEY_LINK_URL: has the unknown placeholder {user_id}');
    expect(refused('ftp://app.example.com/{code}')).toThrow('PORTCULLIS_PASSKEY_LINK_URL: must be an http:// or https:// URL');
    expect(refused('javascript:alert({code})')).toThrow('PORTCULLIS_PASSKEY_LINK_URL: must be an http:// or https:// URL');
    expect(refused('/passkeys?code={code}')).toThrow('PORTCULLIS_PASSKEY_LINK_URL: must be an http:// or https:// URL');
    expect(refused('https://{code}.example.com/')).toThrow('PORTCULLIS_PASSKEY_LINK_URL: must not have {code} or {userId} in the host name');
  });

  it('takes the public URL as an http(s) address with an optional path prefix, kept without a trailing slash', () => {
    expect(loadConfig({}).publicUrl).toBeUndefined();
    expect(loadConfig({ PORTCULLIS_PUBLIC_URL: 'https://Auth.Example.com/' }).publicUrl).toBe('https://auth.example.com');
    expect(loadConfig({ PORTCULLIS_PUBLIC_URL: 'https://example.com/gateway//' }).publicUrl).toBe('https://example.com/gateway');
    expect(loadConfig({ PORTCULLIS_PUBLIC_URL: 'http://localhost:4000' }).publicUrl).toBe('http://localhost:4000');
    for (const url of ['auth.example.com', 'ftp://example.com', 'https://example.com/?x=1', 'https://example.com/#top', 'https://user:pw@example.com']) {
      expect(() => loadConfig({ PORTCULLIS_PUBLIC_URL: url }), url).toThrow(/^PORTCULLIS_PUBLIC_URL: must be an http:\/\/ or https:\/\/ URL/);
    }
  });

  it('serves the metrics on the main port unless PORTCULLIS_METRICS_PORT names another', () => {
    expect(loadConfig({}).metricsPort).toBeUndefined();
    expect(loadConfig({ PORTCULLIS_METRICS_PORT: '9464' }).metricsPort).toBe(9464);
    expect(loadConfig({ PORTCULLIS_METRICS_PORT: '0', PORT: '0' }).metricsPort).toBe(0);
    expect(() => loadConfig({ PORTCULLIS_METRICS_PORT: '4000' })).toThrow(/^PORTCULLIS_METRICS_PORT: is the same as PORT/);
    expect(() => loadConfig({ PORTCULLIS_METRICS_PORT: '70000' })).toThrow(/^PORTCULLIS_METRICS_PORT: /);
    expect(loadConfig({}).threadPoolSize).toBe(4);
    expect(loadConfig({ UV_THREADPOOL_SIZE: '2' }).threadPoolSize).toBe(2);
  });

  it('writes the access log except under NODE_ENV=test, unless told', () => {
    expect(loadConfig({}).accessLog).toBe(true);
    expect(loadConfig({ NODE_ENV: 'production', PORTCULLIS_ALLOW_CONSOLE_DELIVERY: 'true' }).accessLog).toBe(true);
    expect(loadConfig({ NODE_ENV: 'test' }).accessLog).toBe(false);
    expect(loadConfig({ NODE_ENV: 'test', PORTCULLIS_ACCESS_LOG: 'true' }).accessLog).toBe(true);
    expect(loadConfig({ PORTCULLIS_ACCESS_LOG: 'false' }).accessLog).toBe(false);
  });

  it('traces only with an OTLP endpoint: to the base URL\'s /v1/traces, or to the traces URL as written', () => {
    expect(loadConfig({}).tracing).toBeUndefined();
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing).toEqual({
      serviceName: 'portcullis',
      resourceAttributes: {},
      url: 'http://collector:4318/v1/traces',
      protocol: 'http/protobuf',
      headers: {},
      sampler: 'parentbased_always_on',
      samplerRatio: 1,
    });
    const c = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example.com/in',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_HEADERS: 'a=1, b=two%20words',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'b=3',
      OTEL_SERVICE_NAME: 'idp',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
    }).tracing;
    expect(c).toEqual({
      serviceName: 'idp',
      resourceAttributes: { 'deployment.environment.name': 'prod' },
      url: 'https://traces.example.com/in',
      protocol: 'http/json',
      headers: { a: '1', b: '3' },
      sampler: 'parentbased_traceidratio',
      samplerRatio: 0.25,
    });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }).tracing).toBeUndefined();
  });

  it('refuses gRPC, other URL schemes and malformed headers, without quoting a header', () => {
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow('OTEL_EXPORTER_OTLP_PROTOCOL: expected http/protobuf or http/json (OTLP over HTTP; gRPC is not supported)');
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://collector:4317' })).toThrow('OTEL_EXPORTER_OTLP_ENDPOINT: must be an http:// or https:// URL');
    expect(() => loadConfig({ OTEL_TRACES_SAMPLER_ARG: '2' })).toThrow('OTEL_TRACES_SAMPLER_ARG: expected a number from 0 to 1');
    for (const headers of ['api-key-without-equals-sign', 'k=%zz-secret']) {
      try {
        loadConfig({ OTEL_EXPORTER_OTLP_HEADERS: headers });
        expect.unreachable();
      } catch (error) {
        expect((error as ConfigError).variable).toBe('OTEL_EXPORTER_OTLP_HEADERS');
        expect((error as Error).message).not.toContain('secret');
        expect((error as Error).message).not.toContain('api-key');
      }
    }
  });

  it('lists every variable it reads in the help text', () => {
    const documented = configVariables.flatMap(([names]) => names.split(' / '));
    expect(variableNames.filter((n) => !documented.includes(n))).toEqual([]);
  });

  it('lists every variable in .env.example (npm run env:example)', () => {
    const example = readFileSync(path.resolve(import.meta.dirname, '..', '.env.example'), 'utf8');
    for (const [names] of configVariables) {
      for (const name of names.split(' / ')) expect(example, name).toContain(`# ${name}=`);
    }
  });

  it('documents every variable in the README', () => {
    const readme = readFileSync(path.resolve(import.meta.dirname, '..', 'README.md'), 'utf8');
    for (const [names] of configVariables) {
      for (const name of names.split(' / ')) expect(readme, name).toContain(`\`${name}\``);
    }
  });
});
