/**
 * A page that watches an actor live and sends it events: the README's "Clients" example.
 * Run `npm run build:client` once (the browser bundle), then
 * `node examples/clients/main.ts` and open http://127.0.0.1:8080/. The page may connect because
 * its origin is the gateway's public origin (by default the address it listens on; set
 * PUBLIC_ORIGIN to browse it under another name, such as http://localhost:8080).
 */
import { createSystem, fromReceive, gateway } from '../../index.ts';

const PAGE = `<!doctype html>
<p>count: <b id="n">…</b> <button id="inc">+1</button></p>
<script type="module">
  import { connect } from '/troupe/client.js';
  const client = connect('/troupe', { token: 'demo-token' });
  client.subscribe('/user/counter', (count) => (n.textContent = count));
  inc.onclick = () => client.send('/user/counter', { type: 'inc' });
</script>`;

const system = createSystem({
  extensions: [
    gateway({
      listen: { port: Number(process.env.PORT ?? 8080) },
      ...(process.env.PUBLIC_ORIGIN === undefined
        ? {}
        : { publicOrigin: process.env.PUBLIC_ORIGIN }),
      authenticate: (token) => (token === 'demo-token' ? { id: 'demo' } : null),
      authorize: (_principal, _op, target) => target.startsWith('troupe://local/user/'),
    }),
  ],
});
system.spawn(
  fromReceive(0, (n: number, _msg: { type: 'inc' }) => n + 1),
  { name: 'counter' },
);
system.gateway!.route('/', (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(PAGE);
});
await system.gateway!.ready;
console.log(`open http://127.0.0.1:${system.gateway!.port}/`);
process.once('SIGINT', () => void system.shutdown());
