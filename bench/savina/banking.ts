/**
 * banking (Savina "Bank Transaction"): a teller actor and `accounts` account actors. The
 * teller sends all `transactions` transfer orders at once, each to a random source account
 * with a random amount and a random destination of higher number (Savina's choice: the
 * source among the first 80% of accounts, the destination after it). The source debits
 * itself, sends a `credit` to the destination and waits for its answer (request-reply);
 * then it confirms to the teller. The run ends when the teller has every confirmation.
 *
 * While an account waits for a credit's answer it keeps taking credits (they depend on
 * nothing), and keeps new transfer orders aside until the answer comes (a stash in its
 * state; troupe's mailbox is strictly FIFO). Waits only ever point to a higher account, so
 * none can wait on itself in a cycle.
 *
 * It stresses request-reply chains between many actors, with a teller whose mailbox takes
 * every confirmation (unbounded: they arrive faster than it runs).
 *
 * msgs/s counts transfer, credit, its answer and the confirmation: 4 × transactions. After
 * the clock the run asks every account for its balance: money is neither made nor lost.
 */
import { fromReceive, type ActorRef } from '../../index.ts';
import { completion, untilIdle, withSystem } from '../fresh-system.ts';
import { expectCount, scaleCount, secondsSince, type Benchmark, type Sample } from '../harness.ts';
import { RawActor, RawScheduler } from '../raw.ts';
import { Random } from './random.ts';

export interface BankingParams {
  readonly accounts: number;
  readonly transactions: number;
}

/** Every account's opening balance (amounts are whole units: the sum must match exactly). */
const INITIAL_BALANCE = 1_000_000;
/** The teller's random seed (Savina's). */
const SEED = 123_456;

/** One transfer order, drawn as Savina's teller draws it. */
function nextOrder(random: Random, accounts: number): { src: number; dst: number; amount: number } {
  const src = random.nextInt(Math.floor(accounts / 10) * 8);
  const hop = random.nextInt(accounts - src) || 1;
  return { src, dst: src + hop, amount: random.nextInt(1_000) + 1 };
}

function check(p: BankingParams, confirmations: number, balances: readonly number[]): void {
  expectCount('confirmed transfers', confirmations, p.transactions);
  expectCount(
    'money in the bank',
    balances.reduce((a, b) => a + b, 0),
    p.accounts * INITIAL_BALANCE,
  );
}

// ---- troupe:receive -------------------------------------------------------------------------

type Transfer = { type: 'transfer'; amount: number; to: ActorRef<AccountMsg, AccountReply> };
type Credit = { type: 'credit'; amount: number };
type Credited = { type: 'credited' };
type Balance = { type: 'balance' };
type AccountMsg = Transfer | Credit | Credited | Balance;
/** Answers: to a credit, to a transfer (its confirmation, once credited), to a balance. */
type AccountReply = Credited | Confirmed | number;
type Confirmed = { type: 'confirmed' };
type TellerMsg = { type: 'start' } | Confirmed;

const CREDITED: Credited = { type: 'credited' };
const CONFIRMED: Confirmed = { type: 'confirmed' };

interface Account {
  balance: number;
  /** Whom to confirm the transfer under way to, once its credit is answered. */
  confirmTo: ActorRef<AccountReply> | null;
  /** Transfer orders that came while one was under way, with whom to confirm each to. */
  readonly stash: { transfer: Transfer; confirmTo: ActorRef<AccountReply> }[];
}

/** Starts a transfer: debit here, credit there, wait for the answer. */
function begin(a: Account, t: Transfer, confirmTo: ActorRef<AccountReply>): void {
  a.balance -= t.amount;
  a.confirmTo = confirmTo;
  t.to.tell({ type: 'credit', amount: t.amount });
}

const account = fromReceive<Account, AccountMsg, AccountReply>(
  () => ({ balance: INITIAL_BALANCE, confirmTo: null, stash: [] }),
  (a, msg, ctx) => {
    switch (msg.type) {
      case 'transfer': {
        const confirmTo = ctx.replyTo!;
        if (a.confirmTo === null) begin(a, msg, confirmTo);
        else a.stash.push({ transfer: msg, confirmTo });
        break;
      }
      case 'credit':
        a.balance += msg.amount;
        ctx.reply(CREDITED);
        break;
      case 'credited': {
        a.confirmTo!.tell(CONFIRMED);
        a.confirmTo = null;
        const next = a.stash.shift();
        if (next !== undefined) begin(a, next.transfer, next.confirmTo);
        break;
      }
      case 'balance':
        ctx.reply(a.balance);
        break;
    }
    return a;
  },
);

/** Sends every transfer order at `start`; hands the number of confirmations to `done`. */
function teller(
  accounts: readonly ActorRef<AccountMsg, AccountReply>[],
  transactions: number,
  done: (confirmations: number) => void,
) {
  return fromReceive<number, TellerMsg>(0, (confirmations, msg) => {
    if (msg.type === 'start') {
      const random = new Random(SEED);
      for (let i = 0; i < transactions; i++) {
        const { src, dst, amount } = nextOrder(random, accounts.length);
        accounts[src]!.tell({ type: 'transfer', amount, to: accounts[dst]! });
      }
      return confirmations;
    }
    if (confirmations + 1 === transactions) done(confirmations + 1);
    return confirmations + 1;
  });
}

function onTroupe(p: BankingParams): Promise<Sample> {
  return withSystem(async (system) => {
    const done = completion<number>(system);
    const accounts: ActorRef<AccountMsg, AccountReply>[] = [];
    for (let i = 0; i < p.accounts; i++) accounts.push(system.spawn(account));
    const bank = system.spawn(teller(accounts, p.transactions, done.resolve), {
      mailbox: { capacity: Infinity },
    });
    await untilIdle(system);
    const t0 = performance.now();
    bank.tell({ type: 'start' });
    const confirmations = await done.promise;
    const seconds = secondsSince(t0);
    const balances = await Promise.all(
      accounts.map((a) => a.ask({ type: 'balance' }) as Promise<number>),
    );
    check(p, confirmations, balances);
    return { messages: 4 * p.transactions, seconds };
  });
}

// ---- raw ------------------------------------------------------------------------------------

/** Raw actors have no sender: requests carry whom to answer. */
type RawAccountMsg =
  | { type: 'transfer'; amount: number; to: RawAccount }
  | { type: 'credit'; amount: number; from: RawAccount }
  | Credited;
type RawAccount = RawActor<RawAccountMsg>;

async function onRaw(p: BankingParams): Promise<Sample> {
  const scheduler = new RawScheduler();
  const { promise, resolve } = Promise.withResolvers<number>();
  let confirmations = 0;
  const bank = new RawActor(scheduler, (msg: TellerMsg) => {
    if (msg.type === 'start') {
      const random = new Random(SEED);
      for (let i = 0; i < p.transactions; i++) {
        const { src, dst, amount } = nextOrder(random, p.accounts);
        accounts[src]!.tell({ type: 'transfer', amount, to: accounts[dst]! });
      }
    } else if (++confirmations === p.transactions) resolve(confirmations);
  });
  const balances = new Array<number>(p.accounts).fill(INITIAL_BALANCE);
  const accounts: RawAccount[] = [];
  for (let i = 0; i < p.accounts; i++) {
    let busy = false;
    const stash: { amount: number; to: RawAccount }[] = [];
    const begin = (amount: number, to: RawAccount) => {
      balances[i]! -= amount;
      busy = true;
      to.tell({ type: 'credit', amount, from: self });
    };
    const self: RawAccount = new RawActor(scheduler, (msg: RawAccountMsg) => {
      if (msg.type === 'transfer') {
        if (busy) stash.push(msg);
        else begin(msg.amount, msg.to);
      } else if (msg.type === 'credit') {
        balances[i]! += msg.amount;
        msg.from.tell(CREDITED);
      } else {
        bank.tell(CONFIRMED);
        busy = false;
        const next = stash.shift();
        if (next !== undefined) begin(next.amount, next.to);
      }
    });
    accounts.push(self);
  }
  const t0 = performance.now();
  bank.tell({ type: 'start' });
  const confirmed = await promise;
  const seconds = secondsSince(t0);
  check(p, confirmed, balances);
  return { messages: 4 * p.transactions, seconds };
}

export const banking: Benchmark<BankingParams> = {
  name: 'banking',
  describe: (p) =>
    `${p.accounts.toLocaleString('en')} accounts, ${p.transactions.toLocaleString('en')} transfers, request-reply`,
  unit: 'msgs/s',
  params: {
    full: { accounts: 1_000, transactions: 50_000 },
    quick: { accounts: 1_000, transactions: 5_000 },
  },
  scale: (p, f) => ({ accounts: p.accounts, transactions: scaleCount(p.transactions, f) }),
  impls: {
    raw: onRaw,
    'troupe:receive': onTroupe,
  },
};
