/**
 * The Erlang/OTP peer: the Savina benchmarks written in Erlang (bench/peers/erlang/, see its
 * README) as two implementations, `erlang` (the default schedulers: one per core) and
 * `erlang@1` (`+S 1:1`, one scheduler: the fair match for one JavaScript thread).
 *
 * Each call of an implementation is one measured run in a fresh `erl -noshell`: the VM starts,
 * does one unmeasured warm-up run at the same params, then the measured run, prints one line
 * of JSON (`{"messages":N,"seconds":S}`, plus bytesPerActor, p50Us, p99Us where they apply)
 * and halts. `seconds` is measured inside the VM, so the VM's start (about 0.1 s) is not in
 * it. A run that fails (a wrong count, a crash, a timeout) throws an Error with its stderr.
 *
 * The sources are compiled once per process, on first use, with `erlc` into a folder under
 * the OS temp dir named by a hash of the sources and the OTP version (so an edit recompiles
 * and a second process reuses the build). Nothing is written into the repository.
 *
 * Nothing is installed: without `erl` on the PATH, `erlangInfo()` is null and
 * `erlangImpls()` is empty (`apt-get install -y erlang-base` installs it).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RUN_TIMEOUT_MS, type Impl, type Sample } from '../harness.ts';

export type ErlangId = 'erlang' | 'erlang@1';

export interface ErlangInfo {
  /** The OTP version, e.g. "25.2.3". */
  readonly otp: string;
  /** The ERTS (runtime system) version, e.g. "13.1.5". */
  readonly erts: string;
}

/** The benchmarks written in Erlang: `savina:run/2` has a clause for each. */
export const ERLANG_BENCHMARKS: ReadonlySet<string> = new Set([
  'pingpong',
  'counting',
  'threadring',
  'forkjoin-throughput',
  'forkjoin-create',
  'fib',
  'chameneos',
  'big',
  'concdict',
  'banking',
  'spawn-memory',
  'restart',
]);

/** Emulator flags per implementation. */
const SCHEDULERS: Readonly<Record<ErlangId, readonly string[]>> = {
  erlang: [],
  'erlang@1': ['+S', '1:1'],
};

/** Unmeasured runs in the same VM before the measured one (allocators, code, caches). */
const WARMUPS = 1;

const SOURCES = join(import.meta.dirname, 'erlang');

/** No crash dump files: a failed run says why on stderr. */
const ENV = { ...process.env, ERL_CRASH_DUMP_SECONDS: '0' };

/** Prints "OTP ERTS", the OTP version from the release's OTP_VERSION file where there is one. */
const INFO_EVAL = `
  Rel = erlang:system_info(otp_release),
  File = filename:join([code:root_dir(), "releases", Rel, "OTP_VERSION"]),
  Otp = case file:read_file(File) of {ok, B} -> string:trim(binary_to_list(B)); _ -> Rel end,
  io:format("~s ~s~n", [Otp, erlang:system_info(version)]),
  erlang:halt(0).`;

let info: ErlangInfo | null | undefined;

/** The Erlang/OTP on the PATH, or null when there is no `erl`. Asked once per process. */
export function erlangInfo(): ErlangInfo | null {
  if (info !== undefined) return info;
  const r = spawnSync('erl', ['-noshell', '-eval', INFO_EVAL], {
    encoding: 'utf8',
    timeout: 30_000,
    env: ENV,
  });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return (info = null);
  const [otp, erts] = r.status === 0 ? r.stdout.trim().split(' ') : [];
  if (otp === undefined || erts === undefined)
    throw new Error(`erl is on the PATH but does not run: ${failure(r)}`);
  return (info = { otp, erts });
}

/** The Erlang implementations of `bench` (a benchmark's name): none if it has no Erlang version or there is no `erl`. */
export function erlangImpls(bench: string): Partial<Record<ErlangId, Impl<object>>> {
  if (!ERLANG_BENCHMARKS.has(bench) || erlangInfo() === null) return {};
  return {
    erlang: (params) => runErlang('erlang', bench, params),
    'erlang@1': (params) => runErlang('erlang@1', bench, params),
  };
}

/** One measured run of `bench` in a fresh VM. */
function runErlang(id: ErlangId, bench: string, params: object): Sample {
  const beams = compiled();
  const args = [
    '-noshell',
    ...SCHEDULERS[id],
    '-pa',
    beams,
    '-run',
    'savina',
    'main',
    bench,
    JSON.stringify(params),
    String(WARMUPS),
  ];
  const r = spawnSync('erl', args, {
    cwd: beams,
    encoding: 'utf8',
    // the warm-up and the measured run, each within the harness's limit for one run
    timeout: (WARMUPS + 1) * RUN_TIMEOUT_MS,
    killSignal: 'SIGKILL',
    env: ENV,
  });
  if (r.error !== undefined || r.status !== 0) throw new Error(`${bench} ${id}: ${failure(r)}`);
  return parseSample(r.stdout, `${bench} ${id}`);
}

/** The JSON line a run prints, checked. */
function parseSample(stdout: string, what: string): Sample {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(stdout.trim()) as Record<string, unknown>;
  } catch {
    throw new Error(`${what}: expected one line of JSON on stdout, got ${JSON.stringify(stdout)}`);
  }
  const num = (key: string): number | undefined => {
    const v = o[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new Error(`${what}: "${key}" is not a number in ${stdout.trim()}`);
    return v;
  };
  const messages = num('messages');
  const seconds = num('seconds');
  if (messages === undefined || seconds === undefined)
    throw new Error(`${what}: no messages or seconds in ${stdout.trim()}`);
  const bytesPerActor = num('bytesPerActor');
  const p50Us = num('p50Us');
  const p99Us = num('p99Us');
  return {
    messages,
    seconds,
    ...(bytesPerActor === undefined ? {} : { bytesPerActor }),
    ...(p50Us === undefined ? {} : { p50Us }),
    ...(p99Us === undefined ? {} : { p99Us }),
  };
}

let beamDir: string | undefined;

/** The folder of compiled .beam files, compiled on first use. */
function compiled(): string {
  if (beamDir !== undefined) return beamDir;
  const files = readdirSync(SOURCES)
    .filter((f) => f.endsWith('.erl') || f.endsWith('.hrl'))
    .sort();
  const hash = createHash('sha256').update(JSON.stringify(erlangInfo()));
  for (const f of files) hash.update(`\0${f}\0`).update(readFileSync(join(SOURCES, f)));
  const dir = join(tmpdir(), `troupe-erlang-${hash.digest('hex').slice(0, 16)}`);
  if (!existsSync(dir)) {
    // compile aside, then rename: the folder exists only once it is complete
    const building = mkdtempSync(`${dir}-building-`);
    const sources = files.filter((f) => f.endsWith('.erl')).map((f) => join(SOURCES, f));
    const r = spawnSync('erlc', ['-o', building, '-I', SOURCES, ...sources], {
      encoding: 'utf8',
      timeout: 120_000,
      env: ENV,
    });
    if (r.error !== undefined || r.status !== 0) {
      rmSync(building, { recursive: true, force: true });
      throw new Error(`erlc failed: ${failure(r)}`);
    }
    try {
      renameSync(building, dir);
    } catch (e) {
      rmSync(building, { recursive: true, force: true });
      if (!existsSync(dir)) throw e; // else another process compiled the same sources first
    }
  }
  return (beamDir = dir);
}

/** Why a child process failed, for an error message. */
function failure(r: {
  error?: Error;
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}): string {
  if (r.error !== undefined) return `${r.error.message}\n${r.stderr}`.trim();
  const how = r.status === null ? `killed by ${String(r.signal)}` : `exit ${r.status}`;
  return `${how}\n${(r.stderr + r.stdout).trim()}`;
}
