/**
 * A complete small agent (actors/agent/README.md): it searches notes, computes in the
 * sandbox, and publishes only once a human approves. Offline on a scripted model; with
 * OPENAI_BASE_URL (and OPENAI_API_KEY, TROUPE_MODEL) on a real one.
 *   NODE_OPTIONS=--no-node-snapshot node examples/agent/main.ts
 */
import { createSystem } from '../../index.ts';
import {
  budgetKeeper,
  codeTool,
  createAgent,
  defineTool,
  openAIModel,
  scriptedModel,
  type AgentContext,
} from '../../actors/agent/index.ts';

const notes = ['troupe runs agents as actors', 'actors restart under supervisors'];
const search = defineTool({
  name: 'search',
  description: 'Finds the notes that contain a word',
  parameters: { type: 'object', properties: { word: { type: 'string' } }, required: ['word'] },
  run: ({ word }: { word: string }) => notes.filter((n) => n.includes(word)),
});
const publish = defineTool({
  name: 'publish',
  description: 'Publishes a summary',
  parameters: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
  approval: 'always',
  run: ({ text }: { text: string }) => `published: ${text}`,
});

const model = process.env.OPENAI_BASE_URL
  ? openAIModel({ baseURL: process.env.OPENAI_BASE_URL })
  : scriptedModel([
      {
        toolCalls: [
          { name: 'search', arguments: { word: 'actors' } },
          { name: 'run_code', arguments: { code: 'return 6 * 7' } },
        ],
      },
      { toolCalls: [{ name: 'publish', arguments: { text: 'troupe: agents are actors (42)' } }] },
      { content: 'Published the summary.' },
    ]);

const system = createSystem();
const budget = system.spawn(budgetKeeper({ tokens: 100_000, modelCalls: 20 }), { name: 'budget' });
const agent = system.spawn(
  createAgent({
    name: 'writer',
    model,
    modelName: process.env.TROUPE_MODEL ?? 'gpt-4o-mini',
    instructions: 'Summarise the notes about actors, then publish the summary.',
    tools: [search, publish, codeTool()],
    budget: { wallMs: 120_000, subtree: budget },
  }),
  { name: 'writer' },
);

system.subscribe(agent, (u) => {
  if (u.type !== 'troupe.snapshot') return;
  const { value, context } = u.snapshot as { value: string; context: AgentContext };
  console.log(`writer: ${value}`);
  // the human in the loop: here it approves at once; a page would do it through the gateway
  if (value === 'awaitingApproval' && context.approval !== null)
    agent.tell({ type: 'approve', callId: context.approval.callId });
  if (value === 'done') {
    console.log(`answer: ${context.answer}; spent ${JSON.stringify(context.spent)}`);
    void system.shutdown();
  }
});
agent.tell({ type: 'task', input: 'Write this week’s summary' });
