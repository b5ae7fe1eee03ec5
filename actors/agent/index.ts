/** The agent toolkit (`troupe/agent`): see actors/agent/README.md. */
export { createAgent } from './agent.ts';
export type { AgentConfig } from './config.ts';
export type { AgentContext } from './context.ts';
export type { AgentInput } from './input.ts';
export type { PendingApproval } from './approvals.ts';
export { scriptedModel } from './model.ts';
export type { ModelProvider, ModelReply, ModelRequest, ScriptStep, ToolSpec } from './model.ts';
export { openAIModel, tokenLimitField } from './openai.ts';
export type { OpenAIModelOptions } from './openai.ts';
export { anthropicModel } from './anthropic.ts';
export type { AnthropicModelOptions } from './anthropic.ts';
export { openAIResponsesModel } from './openai-responses.ts';
export type { OpenAIResponsesModelOptions } from './openai-responses.ts';
export { sharedModel } from './provider/shared-model.ts';
export type { SharedModel, SharedModelState } from './provider/shared-model.ts';
export { SHARED_MODEL_DEFAULTS } from './provider/options.ts';
export type { SharedModelOptions, FallbackRoute } from './provider/options.ts';
export { modelClients } from './provider/registry.ts';
export type { ModelClients, Endpoint } from './provider/registry.ts';
export type { Provider, CallRequest, CallReply } from './provider/call.ts';
export { memoryLimiterStore } from './provider/limiter-store.ts';
export type { LimiterStore, BucketLimits } from './provider/limiter-store.ts';
export { redisLimiterStore, REDIS_LIMITER_DEFAULTS } from './provider/redis-limiter.ts';
export type { RedisLimiterOptions } from './provider/redis-limiter.ts';
export type { RateLimitHeaders } from './provider/rate-limit-headers.ts';
export type { BreakerState } from './provider/breaker.ts';
export {
  ProviderUnavailableError,
  ProviderTimeoutError,
  ProviderQueueFullError,
  ProviderCallAbortedError,
} from './provider/errors.ts';
export { mcpTools } from './mcp.ts';
export type { McpServer, McpToolOptions, McpTools } from './mcp.ts';
export {
  defineTool,
  codeTool,
  offloadTool,
  delegateTool,
  blackboardTool,
  DelegationFailedError,
  DEFAULT_TOOL_TIMEOUT_MS,
} from './tools.ts';
export { memoryJournal, storeJournal } from './journal.ts';
export { principalBudgets } from './principal-budget.ts';
export type {
  PrincipalBudgets,
  PrincipalBudgetOptions,
  PrincipalUse,
  PrincipalOver,
} from './principal-budget.ts';
export type { ReplyJournal } from './journal.ts';
export type { Tool, ToolContext, ToolDefinition, ApprovalRule } from './tools.ts';
export { budgetKeeper, MAX_RESERVATIONS, MAX_RESERVATION_ID_CHARS } from './budget.ts';
export { InvalidMessageError } from './refusal.ts';
export type { BudgetMsg, BudgetStatus, ReserveReply, Amount } from './budget.ts';
export {
  BudgetExceededError,
  LoopDetectedError,
  MaxStepsExceededError,
  ModelCallError,
} from './types.ts';
export type { StopReason } from './types.ts';
export type {
  ChatMessage,
  Source,
  ToolCallRecord,
  Decision,
  Spent,
  BudgetCaps,
  BudgetCap,
  PriceTable,
  ModelPrice,
} from './types.ts';
