import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';

/**
 * A WebAuthn authenticator in Node for API-level tests (the browser tests use Chromium's virtual
 * authenticator): ES256 keys, "none" attestation, user present and verified, a counter that goes up.
 * It signs whatever origin it is told, which is how a test forges a response from another origin.
 */
export class SoftwareAuthenticator {
  readonly #credentials = new Map<string, { key: KeyObject; userHandle: string; counter: number }>();

  constructor(private readonly origin: string) {}

  get credentialIds(): string[] {
    return [...this.#credentials.keys()];
  }

  register(options: PublicKeyCredentialCreationOptionsJSON, origin = this.origin): RegistrationResponseJSON {
    const id = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64url');
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.#credentials.set(id, { key: privateKey, userHandle: options.user.id, counter: 0 });
    const jwk = publicKey.export({ format: 'jwk' });
    const coseKey = isoCBOR.encode(
      new Map<number, number | Uint8Array>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, Buffer.from(jwk.x!, 'base64url')],
        [-3, Buffer.from(jwk.y!, 'base64url')],
      ]),
    );
    const idBytes = Buffer.from(id, 'base64url');
    const attested = Buffer.concat([Buffer.alloc(16), Buffer.from([0, idBytes.length]), idBytes, coseKey]);
    const authData = authenticatorData(options.rp.id!, 0x45, 0, attested);
    const attestationObject = isoCBOR.encode(
      new Map<string, string | Uint8Array | Map<string, string>>([
        ['fmt', 'none'],
        ['attStmt', new Map<string, string>()],
        ['authData', authData],
      ]),
    );
    return {
      id,
      rawId: id,
      type: 'public-key',
      response: {
        clientDataJSON: clientData('webauthn.create', options.challenge, origin),
        attestationObject: Buffer.from(attestationObject).toString('base64url'),
        transports: ['internal'],
      },
      clientExtensionResults: {},
    };
  }

  /** Answers with the first allowed credential, or (passwordless) the first it holds for the RP. */
  authenticate(
    options: PublicKeyCredentialRequestOptionsJSON,
    input: { origin?: string; credentialId?: string } = {},
  ): AuthenticationResponseJSON {
    const id = input.credentialId ?? options.allowCredentials?.[0]?.id ?? [...this.#credentials.keys()][0]!;
    const credential = this.#credentials.get(id)!;
    credential.counter += 1;
    const authData = authenticatorData(options.rpId!, 0x05, credential.counter);
    const clientDataJSON = clientData('webauthn.get', options.challenge, input.origin ?? this.origin);
    const signed = Buffer.concat([authData, createHash('sha256').update(Buffer.from(clientDataJSON, 'base64url')).digest()]);
    return {
      id,
      rawId: id,
      type: 'public-key',
      response: {
        clientDataJSON,
        authenticatorData: authData.toString('base64url'),
        signature: sign('sha256', signed, credential.key).toString('base64url'),
        userHandle: credential.userHandle,
      },
      clientExtensionResults: {},
    };
  }
}

/** rpIdHash, flags (UP 0x01, UV 0x04, AT 0x40), counter, then the attested credential data if any. */
function authenticatorData(rpId: string, flags: number, counter: number, attested = Buffer.alloc(0)): Buffer {
  const count = Buffer.alloc(4);
  count.writeUInt32BE(counter);
  return Buffer.concat([createHash('sha256').update(rpId).digest(), Buffer.from([flags]), count, attested]);
}

function clientData(type: string, challenge: string, origin: string): string {
  return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false })).toString('base64url');
}
