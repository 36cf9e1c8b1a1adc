import { Client, Connection } from '@temporalio/client';
import type { Config } from '../config';
import { codecDataConverter } from './codec';

/** With PAYLOAD_CODEC_KEYS set, every payload this client sends is sealed (and opened on read). */
export async function connectTemporalClient(
  config: Pick<Config, 'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE'> & Partial<Pick<Config, 'PAYLOAD_CODEC_KEYS'>>,
): Promise<Client> {
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  return new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, ...codecDataConverter(config.PAYLOAD_CODEC_KEYS) });
}
