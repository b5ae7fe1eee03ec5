/**
 * Cross-thread transport, measured: how fast envelopes cross a MessagePort in batches, with
 * structured clone against msgpackr frames (an ArrayBuffer per batch, transferred, not
 * copied). Used to pick the shards' codec (runtime/shards, issue 5), and kept so the choice
 * can be checked again.
 *
 *   node bench/threads/transport.ts [--quick]     (BATCH=n, IN_FLIGHT=n override the two below)
 *
 * Two message sizes: `small` (an envelope with a two-field body, like `{ type: 'inc', n }`)
 * and `large` (a body of about 4 KB: a 2,000-character string and 250 numbers, its own in
 * each message). Batches of
 * BATCH envelopes (a scheduler turn's worth), at most IN_FLIGHT batches unacknowledged.
 * Codecs: `clone` (postMessage of the array), `msgpack` (msgpackr, records off: every frame
 * self-contained), `msgpack-records` (msgpackr `sequential`: record structures sent once per
 * link, then referenced; needs one Packr/Unpackr pair per ordered link, which a MessagePort
 * is), and `link`: troupe's shard link (runtime/shards/link.ts: msgpack records, addresses
 * numbered per link, flat entries instead of an object per envelope). Each figure is the
 * median of RUNS runs, msgs/s counting envelopes received.
 */
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { Packr } from 'msgpackr';
import { median } from '../harness.ts';
import { LinkWriter } from '../../runtime/shards/link.ts';
import type { Address } from '../../protocol/address.ts';

export type Codec = 'clone' | 'msgpack' | 'msgpack-records' | 'link';
const CODECS: readonly Codec[] = ['clone', 'msgpack', 'msgpack-records', 'link'];

/** Envelopes per frame (one scheduler turn's worth for one destination). */
const BATCH = Number(process.env.BATCH ?? 256);
/** Frames sent and not yet acknowledged: the sender's backpressure. */
const IN_FLIGHT = Number(process.env.IN_FLIGHT ?? 8);
const RUNS = 5;

interface Size {
  readonly name: 'small' | 'large';
  readonly messages: number;
  body(n: number): object;
}

const text = 'x'.repeat(2_000);
const numbers = Array.from({ length: 250 }, (_, i) => i * 1.5);
const SIZES: readonly Size[] = [
  { name: 'small', messages: 1_000_000, body: (n) => ({ type: 'inc', n }) },
  // a string and an array of its own per message: structured clone sends an object it met
  // before in the same postMessage as a back-reference, which a real stream of documents
  // would not give it
  {
    name: 'large',
    messages: 50_000,
    body: (n) => ({ type: 'doc', n, text: text + n, numbers: numbers.map((x) => x + n) }),
  },
];

async function run(codec: Codec, size: Size, messages: number): Promise<number> {
  const worker = new Worker(new URL('./transport-worker.ts', import.meta.url), {
    workerData: { codec },
  });
  await once(worker, 'online');
  const packr =
    codec === 'msgpack-records'
      ? new Packr({ sequential: true })
      : new Packr({ useRecords: false });
  const link = new LinkWriter();
  let seq = 1;
  const frame = (batch: object[]): void => {
    if (codec === 'link') {
      for (const e of batch as { to: Address; from: Address; body: unknown }[])
        link.pushTell(e.to, e.from, e.body);
      const bytes = link.take(0, [])!;
      link.acked([seq++]); // the bench keeps nothing for dead letters
      worker.postMessage(bytes, [bytes.buffer as ArrayBuffer]);
      return;
    }
    if (codec === 'clone') {
      worker.postMessage(batch);
      return;
    }
    const buf = packr.pack(batch);
    // a copy of msgpackr's pooled buffer that the port can take over
    const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    worker.postMessage(ab, [ab as ArrayBuffer]);
  };
  const t0 = performance.now();
  let sent = 0;
  let inFlight = 0;
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      while (inFlight < IN_FLIGHT && sent < messages) {
        const n = Math.min(BATCH, messages - sent);
        const batch: object[] = new Array(n);
        for (let i = 0; i < n; i++)
          batch[i] = {
            v: 1,
            to: 'troupe://local/user/counter',
            from: 'troupe://local/user/producer',
            kind: 'user',
            body: size.body(sent + i),
          };
        frame(batch);
        sent += n;
        inFlight++;
      }
    };
    worker.on('message', (m: unknown) => {
      if (m !== 1) return;
      inFlight--;
      if (sent < messages) pump();
      else if (inFlight === 0) resolve();
    });
    pump();
  });
  const seconds = (performance.now() - t0) / 1000;
  worker.postMessage('report');
  const [report] = (await once(worker, 'message')) as [{ count: number; sum: number }];
  await worker.terminate();
  const expectedSum = (messages * (messages - 1)) / 2;
  if (report.count !== messages || report.sum !== expectedSum)
    throw new Error(`${codec} ${size.name}: received ${report.count} messages, sum ${report.sum}`);
  return messages / seconds;
}

export interface TransportFigure {
  readonly size: 'small' | 'large';
  readonly codec: Codec;
  readonly messages: number;
  readonly msgsPerSec: number;
  readonly min: number;
  readonly max: number;
}

/** Every codec × size, interleaved, after one warm-up run each. */
export async function measureTransport(quick: boolean): Promise<TransportFigure[]> {
  const out: TransportFigure[] = [];
  for (const size of SIZES) {
    const messages = quick ? size.messages / 10 : size.messages;
    const rates = new Map<Codec, number[]>(CODECS.map((c) => [c, []]));
    for (const c of CODECS) await run(c, size, messages);
    for (let r = 0; r < (quick ? 3 : RUNS); r++)
      for (const c of CODECS) rates.get(c)!.push(await run(c, size, messages));
    for (const c of CODECS) {
      const xs = rates.get(c)!;
      out.push({
        size: size.name,
        codec: c,
        messages,
        msgsPerSec: Math.round(median(xs)),
        min: Math.round(Math.min(...xs)),
        max: Math.round(Math.max(...xs)),
      });
    }
  }
  return out;
}

if (import.meta.main) {
  const figures = await measureTransport(process.argv.includes('--quick'));
  for (const f of figures)
    console.log(
      `${f.size.padEnd(6)} ${f.codec.padEnd(16)} ${(f.msgsPerSec / 1e6).toFixed(2)} M msgs/s (${(f.min / 1e6).toFixed(2)}–${(f.max / 1e6).toFixed(2)})`,
    );
}
