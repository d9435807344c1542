/**
 * A software WebAuthn authenticator for API tests: an ES256 key pair from
 * node:crypto, attestation "none" and assertions built by hand (WebAuthn §6.1
 * authenticator data, §6.5.4 attestation object, §7 client data), so tests can
 * register and sign in without a browser, and forge exactly the fault under
 * test (wrong origin, wrong RP ID, replayed challenge, counter going back).
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

type Cbor = number | string | Uint8Array | Map<Cbor, Cbor> | Cbor[] | boolean;

function head(major: number, value: number): Buffer {
  if (value < 24) return Buffer.from([(major << 5) | value]);
  if (value < 0x100) return Buffer.from([(major << 5) | 24, value]);
  if (value < 0x10000) {
    const b = Buffer.alloc(3);
    b[0] = (major << 5) | 25;
    b.writeUInt16BE(value, 1);
    return b;
  }
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(value, 1);
  return b;
}

/** The subset of CBOR (RFC 8949) that attestation objects and COSE keys use. */
export function encodeCbor(value: Cbor): Buffer {
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'boolean') return Buffer.from([value ? 0xf5 : 0xf4]);
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([head(3, bytes.length), bytes]);
  }
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), Buffer.from(value)]);
  if (Array.isArray(value)) return Buffer.concat([head(4, value.length), ...value.map(encodeCbor)]);
  const parts = [head(5, value.size)];
  for (const [k, v] of value) parts.push(encodeCbor(k), encodeCbor(v));
  return Buffer.concat(parts);
}

const b64url = (b: Uint8Array | string) => Buffer.from(b).toString('base64url');
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest();

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_BE = 0x08;
const FLAG_BS = 0x10;
const FLAG_AT = 0x40;

interface CreationOptions {
  challenge: string;
  rp: { id?: string };
  user: { id: string };
}
interface RequestOptions {
  challenge: string;
  rpId?: string;
}

/** Faults a test may inject into one ceremony. */
export interface Overrides {
  origin?: string;
  rpId?: string;
  challenge?: string;
  userVerified?: boolean;
  counter?: number;
  type?: string;
  userHandle?: string | null;
}

export interface SoftwareAuthenticator {
  credentialId: string;
  /** The signature counter the next assertion will carry (before increment). */
  counter: number;
  register(options: CreationOptions, overrides?: Overrides): Record<string, unknown>;
  authenticate(options: RequestOptions, overrides?: Overrides): Record<string, unknown>;
}

export function softwareAuthenticator(init: { origin: string; backedUp?: boolean; userVerified?: boolean; startCounter?: number } = { origin: 'http://localhost' }): SoftwareAuthenticator {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const credentialId = randomBytes(16);
  let userHandle: string | null = null;
  const state = { counter: init.startCounter ?? 0 };

  const flags = (o: Overrides, extra = 0) =>
    FLAG_UP | ((o.userVerified ?? init.userVerified ?? true) ? FLAG_UV : 0) | (init.backedUp ? FLAG_BE | FLAG_BS : 0) | extra;

  const clientData = (type: string, challenge: string, o: Overrides) =>
    Buffer.from(JSON.stringify({ type: o.type ?? type, challenge: o.challenge ?? challenge, origin: o.origin ?? init.origin, crossOrigin: false }));

  const counterBytes = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n >>> 0);
    return b;
  };

  return {
    credentialId: b64url(credentialId),
    get counter() {
      return state.counter;
    },
    set counter(n: number) {
      state.counter = n;
    },
    register(options, o = {}) {
      const rpId = o.rpId ?? options.rp.id ?? 'localhost';
      userHandle = options.user.id;
      const jwk = (publicKey as KeyObject).export({ format: 'jwk' });
      const cose = new Map<Cbor, Cbor>([
        [1, 2], // kty: EC2
        [3, -7], // alg: ES256
        [-1, 1], // crv: P-256
        [-2, Buffer.from(jwk.x as string, 'base64url')],
        [-3, Buffer.from(jwk.y as string, 'base64url')],
      ]);
      const idLength = Buffer.alloc(2);
      idLength.writeUInt16BE(credentialId.length);
      const authData = Buffer.concat([
        sha256(rpId),
        Buffer.from([flags(o, FLAG_AT)]),
        counterBytes(o.counter ?? state.counter),
        Buffer.alloc(16), // AAGUID: zeros, as "none" attestation allows
        idLength,
        credentialId,
        encodeCbor(cose),
      ]);
      const attestationObject = encodeCbor(new Map<Cbor, Cbor>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]));
      return {
        id: b64url(credentialId),
        rawId: b64url(credentialId),
        type: 'public-key',
        response: { clientDataJSON: b64url(clientData('webauthn.create', options.challenge, o)), attestationObject: b64url(attestationObject), transports: ['usb'] },
        clientExtensionResults: { credProps: { rk: true } },
        authenticatorAttachment: 'cross-platform',
      };
    },
    authenticate(options, o = {}) {
      const rpId = o.rpId ?? options.rpId ?? 'localhost';
      if (o.counter === undefined) state.counter += 1;
      const authData = Buffer.concat([sha256(rpId), Buffer.from([flags(o)]), counterBytes(o.counter ?? state.counter)]);
      const cdj = clientData('webauthn.get', options.challenge, o);
      const signature = sign('sha256', Buffer.concat([authData, sha256(cdj)]), privateKey);
      const handle = o.userHandle === undefined ? userHandle : o.userHandle;
      return {
        id: b64url(credentialId),
        rawId: b64url(credentialId),
        type: 'public-key',
        response: { clientDataJSON: b64url(cdj), authenticatorData: b64url(authData), signature: b64url(signature), ...(handle ? { userHandle: handle } : {}) },
        clientExtensionResults: {},
        authenticatorAttachment: 'cross-platform',
      };
    },
  };
}
