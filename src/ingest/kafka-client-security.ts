import type { KafkaConfig, SASLOptions } from 'kafkajs';
import { tlsConnectionOptions, type TlsFiles } from '../config/tls-files.js';

/** SASL credentials, as the config's `sasl:` block holds them. */
export interface KafkaSaslSettings {
  readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  readonly username: string;
  readonly password: string;
}

/** PEM files to trust and to present; read when the client is built. */
export type KafkaTlsFiles = TlsFiles;

/** How a Kafka client proves itself and protects the wire: the config's `sasl` and `tls`. */
export interface KafkaClientSecurity {
  readonly sasl?: KafkaSaslSettings;
  /** `true`: TLS trusting the system CAs; files: TLS with those; unset or false: plaintext. */
  readonly tls?: boolean | KafkaTlsFiles;
}

/**
 * The kafkajs client options for `security`: `ssl` and `sasl`, nothing else, so the source,
 * the dead-letter producer and the sink build their clients the same way. `setting` names the
 * config section in the error when a PEM file cannot be read (e.g. `source.tls`).
 */
export function kafkajsSecurityOptions(security: KafkaClientSecurity | undefined, setting: string): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const out: { ssl?: KafkaConfig['ssl']; sasl?: SASLOptions } = {};
  const tls = security?.tls;
  if (tls === true) out.ssl = true;
  else if (tls !== undefined && tls !== false) out.ssl = tlsConnectionOptions(tls, setting);
  const sasl = security?.sasl;
  if (sasl !== undefined) {
    // kafkajs's mechanism names are the config's; the switch keeps the union types aligned.
    switch (sasl.mechanism) {
      case 'plain':
        out.sasl = { mechanism: 'plain', username: sasl.username, password: sasl.password };
        break;
      case 'scram-sha-256':
        out.sasl = { mechanism: 'scram-sha-256', username: sasl.username, password: sasl.password };
        break;
      case 'scram-sha-512':
        out.sasl = { mechanism: 'scram-sha-512', username: sasl.username, password: sasl.password };
        break;
    }
  }
  return out;
}
