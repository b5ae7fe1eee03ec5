/**
 * The receiving side of bench/threads/transport.ts: decodes each batch with the codec it was
 * told, touches every message as a mailbox would (reads `to` and the body's `n`), and acks
 * every batch so the sender can bound what is in flight.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Unpackr } from 'msgpackr';
import type { Codec } from './transport.ts';
import { LinkReader } from '../../runtime/shards/link.ts';

interface Envelope {
  readonly to: string;
  readonly body: { readonly n: number };
}

const { codec } = workerData as { codec: Codec };
const unpackr =
  codec === 'msgpack-records'
    ? new Unpackr({ sequential: true, mapsAsObjects: true, int64AsType: 'number' })
    : new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
const link = new LinkReader();
const noRefs = (): never => {
  throw new Error('no refs in these messages');
};
let sum = 0;
let count = 0;
const port = parentPort!;
port.on('message', (data: unknown) => {
  if (data === 'report') {
    port.postMessage({ count, sum });
    count = 0;
    sum = 0;
    return;
  }
  if (codec === 'link') {
    let n = 0;
    link.read(data as Uint8Array, noRefs, (_k, to, _f, _r, _c, _t, _p, body) => {
      if (to.length > 0) sum += (body as { n: number }).n;
      n++;
    });
    count += n;
    port.postMessage(1);
    return;
  }
  const batch = (
    codec === 'clone' ? data : unpackr.unpack(new Uint8Array(data as ArrayBuffer))
  ) as Envelope[];
  for (let i = 0; i < batch.length; i++) {
    const e = batch[i]!;
    if (e.to.length > 0) sum += e.body.n;
  }
  count += batch.length;
  port.postMessage(1);
});
